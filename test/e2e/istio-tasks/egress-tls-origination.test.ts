/**
 * Istio's task traffic-management/egress/egress-tls-origination ("Egress TLS Origination") on
 * `mast local`'s bookinfo: sleep (productpage's sidecar, as in egress-gateway.test.ts) sends plain
 * HTTP to edition.cnn.com, a server of the test on 127.0.0.4 (external-host.ts: plain HTTP answers
 * 301 to https, HTTPS 200). First the ServiceEntry alone: 301. Then the VirtualService sends port
 * 80 to the `tls-origination` subset on 443, whose DestinationRule says `tls.mode: SIMPLE`: the
 * sidecar opens TLS to edition.cnn.com and the answer is 200, no redirect. The DestinationRule
 * names the test's CA (`caCertificates`), where the task's host has a publicly trusted
 * certificate. Not here: the steps where sleep itself speaks HTTPS (`curl -L` following the
 * redirect, `curl https://...`: TLS from the app, which mast local's sidecar takes only as an HTTP
 * proxy's requests without `--intercept`), and the mutual TLS section (`credentialName`: MAST0301).
 */
import { until } from '../../support/poll';
import { cnnTask } from './cnn-task';

const task = cnnTask('127.0.0.4');
const sidecarLog = () => task.log('sidecar productpage-v1.default');

/** The task's VirtualService `edition-cnn-com` with its `tls` route for 443 (by SNI; a sidecar does not apply it yet, MAST0301). */
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

/** Port 80 to the `tls-origination` subset on 443, and that subset's SIMPLE TLS (checked against the test's CA). */
const ORIGINATION = () => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: edition-cnn-com, namespace: default }
spec:
  hosts: [edition.cnn.com]
  http:
  - match: [{ port: 80 }]
    route:
    - destination: { host: edition.cnn.com, subset: tls-origination, port: { number: 443 } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: edition-cnn-com, namespace: default }
spec:
  host: edition.cnn.com
  subsets:
  - name: tls-origination
    trafficPolicy:
      loadBalancer: { simple: ROUND_ROBIN }
      portLevelSettings:
      - port: { number: 443 }
        tls: { mode: SIMPLE, caCertificates: ${task.cnn.ca} }
`;

describe('egress-tls-origination: TLS origination at the sidecar', () => {
  test('the ServiceEntry (and the tls route for 443): plain HTTP to edition.cnn.com answers 301 to https', async () => {
    await task.mesh.edit('mesh/cnn.yaml', () => `${task.serviceEntry()}---\n${SNI_ROUTE}`);
    const before = task.cnn.hits.length;
    expect((await task.curl()).status).toBe(301);
    expect(task.cnn.hits.slice(before)).toEqual([{ method: 'GET', path: '/politics', host: 'edition.cnn.com', tls: false }]);
  });

  test('port 80 to the tls-origination subset on 443 with SIMPLE TLS: 200, the sidecar asked edition.cnn.com over TLS', async () => {
    await task.mesh.edit('mesh/cnn.yaml', () => `${task.serviceEntry()}---\n${ORIGINATION()}`);
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
