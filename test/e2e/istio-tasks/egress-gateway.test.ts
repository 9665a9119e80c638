/**
 * Istio's task traffic-management/egress/egress-gateway ("Egress Gateways"), its HTTP section, on
 * `mast local`'s bookinfo. The task's `sleep` pod is productpage's sidecar (fromWorkload: the
 * absolute URL to its outbound port, as curl through a captured pod). edition.cnn.com is a server
 * of the test on 127.0.0.2 (external-host.ts: like the real one, plain HTTP answers 301 to https),
 * reached through the ServiceEntry's endpoint where the task resolves the name by DNS. The egress
 * gateway is mast local's, started when the Gateway selecting `istio: egressgateway` appears; its
 * Service is `istio-egressgateway.mast-system.svc.cluster.local` (mast's namespace stands for
 * istio-system). The documented outcomes: the same 301 before and after the egress gateway is put
 * in the path, and the egress gateway's access log has the request (`outbound|80||edition.cnn.com`).
 * The HTTPS section (TLS from the app, PASSTHROUGH by SNI) is not here: see docs/istio-tasks.md.
 */
import { EGRESS_HOST, egressGateway, egressSubset, throughEgressGateway } from './cnn-mesh';
import { cnnTask } from './cnn-task';
import { until } from '../../support/poll';

const task = cnnTask('127.0.0.2');
const egressLog = () => task.log('egress gateway');
const sidecarLog = () => task.log('sidecar productpage-v1.default');
const VIRTUAL_SERVICE = throughEgressGateway(80);

describe('egress-gateway: HTTP traffic through the egress gateway', () => {
  test('a ServiceEntry for edition.cnn.com: the request reaches it directly (301 to https)', async () => {
    await task.mesh.edit('mesh/cnn.yaml', task.serviceEntry);
    const before = task.cnn.hits.length;
    const reply = await task.curl();
    expect(reply.status).toBe(301);
    expect(task.cnn.hits.slice(before)).toEqual([{ method: 'GET', path: '/politics', host: 'edition.cnn.com', tls: false }]);
    // No egress gateway yet: nothing selects it.
    expect(task.mesh.mesh.egress.adminPort).toBe(0);
  });

  test('the egress Gateway, its DestinationRule and the two-route VirtualService: the same 301, and the egress gateway logged it', async () => {
    await task.mesh.edit('mesh/egress.yaml', () => `${egressGateway('HTTP')}---\n${egressSubset(false)}---\n${VIRTUAL_SERVICE}`);
    expect(task.mesh.mesh.egress.ports[80]).toEqual(expect.any(Number));
    const before = task.cnn.hits.length;
    const sidecarBefore = sidecarLog().length;
    const reply = await task.curl();
    expect(reply.status).toBe(301);
    expect(task.cnn.hits.slice(before)).toEqual([{ method: 'GET', path: '/politics', host: 'edition.cnn.com', tls: false }]);
    // The task's log line: GET /politics, authority edition.cnn.com, to outbound|80||edition.cnn.com.
    await until('the access log lines', () => egressLog().length > 0 && sidecarLog().length > sidecarBefore, 5000);
    expect(egressLog()).toEqual([
      expect.objectContaining({
        method: 'GET',
        path: '/politics',
        response_code: 301,
        authority: 'edition.cnn.com',
        upstream_cluster: 'outbound|80||edition.cnn.com',
        upstream_host: `${task.cnn.address}:${task.cnn.httpPort}`,
      }),
    ]);
    // And sleep's sidecar sent it to the egress gateway's subset, not to edition.cnn.com.
    expect(sidecarLog().slice(sidecarBefore)).toEqual([
      expect.objectContaining({ path: '/politics', upstream_cluster: `outbound|80|cnn|${EGRESS_HOST}` }),
    ]);
  });

  test("the egress gateway's certificate (the task's `istioctl pc secret … | openssl x509 -text`): its SAN is the gateway's SPIFFE identity", async () => {
    const certs = (await (await fetch(`http://127.0.0.1:${task.mesh.mesh.egress.adminPort}/certs`)).json()) as Array<{
      name: string;
      subjectAltNames?: string[];
    }>;
    // Istio's: spiffe://cluster.local/ns/istio-system/sa/istio-egressgateway-service-account; mast's
    // egress gateway runs in mast-system under the service account named as its Deployment.
    expect(certs.find((c) => c.name === 'default')?.subjectAltNames).toEqual([
      'URI:spiffe://cluster.local/ns/mast-system/sa/istio-egressgateway',
    ]);
  });

  test('without the egress Gateway, the mesh route still goes to the egress gateway, which no longer serves port 80: 503, nothing reaches edition.cnn.com', async () => {
    await task.mesh.edit('mesh/egress.yaml', () => `${egressSubset(false)}---\n${VIRTUAL_SERVICE}`);
    const before = task.cnn.hits.length;
    expect((await task.curl()).status).toBe(503);
    expect(task.cnn.hits.length).toBe(before);
  });

  test('cleanup: without the Gateway, DestinationRule and VirtualService the request goes directly again', async () => {
    await task.mesh.edit('mesh/egress.yaml', () => '# deleted\n');
    const logged = egressLog().length;
    expect((await task.curl()).status).toBe(301);
    expect(egressLog().length).toBe(logged);
  });
});
