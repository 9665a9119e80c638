/**
 * Istio's task traffic-management/egress/egress-tls-origination ("Egress TLS Origination") on
 * `mast local`'s bookinfo: sleep (productpage's sidecar, as in egress-gateway.test.ts) sends plain
 * HTTP to edition.cnn.com, a server of the test on 127.0.0.4 (external-host.ts: plain HTTP answers
 * 301 to https, HTTPS 200). First the ServiceEntry alone: 301. Then the VirtualService sends port
 * 80 to the `tls-origination` subset on 443, whose DestinationRule says `tls.mode: SIMPLE`: the
 * sidecar opens TLS to edition.cnn.com and the answer is 200, no redirect. The DestinationRule
 * names the test's CA (`caCertificates`), where the task's host has a publicly trusted
 * certificate. The steps where sleep itself speaks HTTPS (`curl -L` following the redirect,
 * `curl https://...`) need captured traffic: egress-tls-origination.intercept.test.ts. Then the mutual TLS section: sleep's sidecar originates
 * mutual TLS to my-nginx.mesh-external (a test server requiring a client certificate of the task's
 * CA, external-host.ts) with the certificate of the `client-credential` Secret of its namespace,
 * named by a DestinationRule whose workloadSelector selects sleep (Istio 1.14+ applies a
 * credentialName at a sidecar only so). The task's Role and RoleBinding letting sleep's service
 * account read the Secret have no counterpart in mast local: it hands a sidecar the Secrets of its
 * namespace that such a rule names.
 */
import { fromWorkload } from '../support';
import { until } from '../../support/poll';
import { originateTlsForPort80 } from './cnn-mesh';
import { cnnTask } from './cnn-task';
import { startMutualTlsServer, type MutualTlsServer } from './external-host';
import { clientCredential, NGINX_HOST, nginxServiceEntry, originateMtls } from './nginx-mtls-mesh';

const task = cnnTask('127.0.0.4');
const sidecarLog = () => task.log('sidecar productpage-v1.default');

/** The task's VirtualService `edition-cnn-com` with its `tls` route for 443 (by SNI, as the sidecar routes an app's own TLS). */
const SNI_ROUTE = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: edition-cnn-com, namespace: default }
spec:
  hosts: [edition.cnn.com]
  tls:
  - match: [{ port: 443, sniHosts: [edition.cnn.com] }]
    route:
    - destination: { host: edition.cnn.com, port: { number: 443 } }
      weight: 100
`;

describe('egress-tls-origination: TLS origination at the sidecar', () => {
  test('the ServiceEntry (and the tls route for 443): plain HTTP to edition.cnn.com answers 301 to https', async () => {
    await task.mesh.edit('mesh/cnn.yaml', () => `${task.serviceEntry()}---\n${SNI_ROUTE}`);
    const before = task.cnn.hits.length;
    expect((await task.curl()).status).toBe(301);
    expect(task.cnn.hits.slice(before)).toEqual([{ method: 'GET', path: '/politics', host: 'edition.cnn.com', tls: false }]);
  });

  test('port 80 to the tls-origination subset on 443 with SIMPLE TLS: 200, the sidecar asked edition.cnn.com over TLS', async () => {
    await task.mesh.edit('mesh/cnn.yaml', () => `${task.serviceEntry()}---\n${originateTlsForPort80(task.cnn.ca)}`);
    const before = task.cnn.hits.length;
    const logged = sidecarLog().length;
    const reply = await task.curl();
    expect(reply.status).toBe(200);
    expect(reply.body).toContain('<title>edition.cnn.com</title>');
    expect(task.cnn.hits.slice(before)).toEqual([
      { method: 'GET', path: '/politics', host: 'edition.cnn.com', tls: true, serverName: 'edition.cnn.com' },
    ]);
    await until("sleep's sidecar to log the request", () => sidecarLog().length > logged, 5000);
    expect(sidecarLog().slice(logged)).toEqual([
      expect.objectContaining({ path: '/politics', response_code: 200, upstream_cluster: 'outbound|443|tls-origination|edition.cnn.com' }),
    ]);
  });

  test('cleanup: without the VirtualService and DestinationRule, 301 again', async () => {
    await task.mesh.edit('mesh/cnn.yaml', () => task.serviceEntry());
    expect((await task.curl()).status).toBe(301);
  });
});

describe('egress-tls-origination: mutual TLS origination at the sidecar', () => {
  let nginx: MutualTlsServer | undefined;
  beforeAll(async () => {
    nginx = await startMutualTlsServer('127.0.0.4');
  });
  afterAll(() => nginx?.close());
  const server = () => nginx!;
  const curl = () => fromWorkload(task.mesh.mesh, 'productpage-v1', `http://${NGINX_HOST}`);
  /** The Secret client-credential (in `secretNamespace`), the ServiceEntry (80 to 443) and the DestinationRule selecting sleep (productpage here). */
  const mesh = (secretNamespace: string) =>
    [
      clientCredential(secretNamespace, {
        cert: server().file('client.example.com.crt'),
        key: server().file('client.example.com.key'),
        ca: server().file('example.com.crt'),
      }),
      nginxServiceEntry(server(), true),
      originateMtls({ namespace: 'default', port: 80, selector: { app: 'productpage' } }),
    ].join('---\n');
  const sidecarLines = () => sidecarLog().filter((l) => l.authority === NGINX_HOST);

  test("client-credential in default, the DestinationRule selecting sleep: the welcome page, sleep's sidecar presenting client.example.com", async () => {
    await task.mesh.edit('mesh/nginx.yaml', () => mesh('default'));
    const reply = await curl();
    expect(reply.status).toBe(200);
    expect(reply.body).toContain('<title>Welcome to nginx!</title>');
    expect(server().hits).toEqual([{ path: '/', serverName: NGINX_HOST, client: { cn: 'client.example.com', serial: '01' } }]);
    // `kubectl logs -l app=sleep -c istio-proxy | grep my-nginx.mesh-external.svc.cluster.local`
    await until("sleep's sidecar to log the request", () => sidecarLines().length > 0, 5000);
    expect(sidecarLines().at(-1)).toEqual(
      expect.objectContaining({
        method: 'GET',
        response_code: 200,
        upstream_cluster: `outbound|80||${NGINX_HOST}`,
        upstream_host: `${server().address}:${server().port}`,
      }),
    );
  });

  test("the Secret in istio-system instead of sleep's namespace: a finding naming both, and the connection fails (503)", async () => {
    await task.mesh.edit('mesh/nginx.yaml', () => mesh('istio-system'));
    await until(
      'the finding is logged',
      () =>
        task.mesh.logs.some((l) =>
          /MAST0170 .*DestinationRule default\/originate-mtls-for-nginx.*Secret "client-credential" is in namespace istio-system, not in default where the workload runs/.test(
            l,
          ),
        ),
      10_000,
    );
    // The sidecar looks at its Secrets again within a second; its open connection (made with the old one) closed by the server.
    let status = 0;
    await until(
      'the connection to fail without the Secret',
      async () => {
        server().closeConnections();
        return (status = (await curl()).status) === 503;
      },
      5000,
      () => `last status ${status}`,
    );
    const hits = server().hits.length;
    expect((await curl()).status).toBe(503);
    expect(server().hits.length).toBe(hits);
  });

  test('cleanup: without the Secret, ServiceEntry and DestinationRule, my-nginx is not reached', async () => {
    await task.mesh.edit('mesh/nginx.yaml', () => '# deleted\n');
    const hits = server().hits.length;
    expect((await curl()).status).not.toBe(200);
    expect(server().hits.length).toBe(hits);
  });
});
