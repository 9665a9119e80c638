/** TCP in the compiled config: a Gateway TCP server's tcp route, a sidecar's TCP service ports. */
import { loadYaml } from '../../api';
import { buildIndex, compile, makeSnapshot } from '../../runtime/compile';

describe('TCP in the compiled config', () => {
  const mesh = (extra = '') =>
    buildIndex(
      makeSnapshot(
        loadYaml(`
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge, namespace: default }
spec: { selector: { istio: ingressgateway }, servers: [{ port: { number: 31400, name: tcp, protocol: TCP }, hosts: ["*"] }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: db, namespace: default }
spec:
  hosts: ["*"]
  gateways: [edge]
  tcp: [{ match: [{ port: 31400 }], route: [{ destination: { host: db.default.svc.cluster.local, port: { number: 5432 } } }] }]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: db, namespace: default }
spec: { hosts: [db.default.svc.cluster.local], ports: [{ number: 5432, name: tcp-pg, protocol: TCP }], resolution: STATIC, endpoints: [{ address: 10.0.0.9 }] }
${extra}`).objects,
        'v1',
      ),
    );

  test('a Gateway TCP server takes the VirtualService tcp route', () => {
    const cfg = compile(mesh(), { mode: 'gateway', namespace: 'mast-system', labels: { istio: 'ingressgateway' } });
    expect(cfg.listeners).toEqual([
      expect.objectContaining({
        matchPort: 31400,
        protocol: 'tcp',
        tcpDestinations: [{ cluster: 'outbound|5432||db.default.svc.cluster.local', weight: 100 }],
      }),
    ]);
    expect(cfg.clusters.map((c) => c.endpoints)).toEqual([[{ address: '10.0.0.9', port: 5432, labels: {} }]]);
  });

  test('a sidecar proxies a TCP service port as TCP; two TCP services on one port cannot be told apart and are left alone', () => {
    const sidecar = { mode: 'sidecar' as const, namespace: 'default', labels: {} };
    expect(compile(mesh(), sidecar).listeners).toContainEqual(
      expect.objectContaining({
        name: 'outbound_5432_tcp',
        protocol: 'tcp',
        port: 15001,
        tcpDestinations: [{ cluster: 'outbound|5432||db.default.svc.cluster.local', weight: 100 }],
      }),
    );
    const twice = mesh(`---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: db2, namespace: default }
spec: { hosts: [db2.default.svc.cluster.local], ports: [{ number: 5432, name: tcp-pg, protocol: TCP }], resolution: STATIC, endpoints: [{ address: 10.0.0.10 }] }
`);
    expect(compile(twice, sidecar).listeners.filter((l) => l.matchPort === 5432)).toEqual([]);
  });
});
