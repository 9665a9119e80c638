/**
 * A route destination that names no port, of a service with several: the sidecar sends it to the
 * port the request came to, as Istio's route translation does (Bookinfo's virtual-service-all-v1
 * routes ratings without a port; the example's ratings serves http 9080 and grpc 9090). Istio's
 * analyzer still flags such a destination (IST0112), and so does mast's (MAST0211): not an
 * Error that stops the mesh, a report.
 */
import { validate } from '../../api';
import { compileMesh, meshOf, outcome, ratingsEntry, sidecar } from './simulation';

const MESH = `
${ratingsEntry(
  '{ number: 9080, name: http, protocol: HTTP }, { number: 9090, name: grpc, protocol: GRPC }',
  'endpoints: [{ address: 10.4.0.1, labels: { version: v1 } }]',
)}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ratings, namespace: default }
spec: { host: ratings, subsets: [{ name: v1, labels: { version: v1 } }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ratings, namespace: default }
spec: { hosts: [ratings], http: [{ route: [{ destination: { host: ratings, subset: v1 } }] }] }
`;

test.each([9080, 9090])('a request to ratings:%i goes to that port of subset v1', (port) => {
  expect(outcome(compileMesh(MESH, sidecar('default')), { port, host: `ratings:${port}` }, 0)).toMatchObject({
    outcome: 'routed',
    cluster: `outbound|${port}|v1|ratings.default.svc.cluster.local`,
    endpoints: [`10.4.0.1:${port}`],
  });
});

test('the analysis names the missing port selector, as istioctl analyze does (IST0112)', () => {
  expect(validate(meshOf(MESH)).map((f) => [f.code, f.istioCode, f.path])).toContainEqual([
    'MAST0211',
    'IST0112',
    'spec.http[0].route[0].destination.port',
  ]);
});
