/** PeerAuthentication compiled into a sidecar's inbound: workload → namespace → root namespace, and per port. */
import { loadYaml } from '../../api';
import { buildIndex, compile, makeSnapshot } from '../../runtime/compile';
import type { ProxyIdentity } from '../../runtime/shared/push-protocol';

const pa = (name: string, namespace: string, spec: string) => `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: ${name}, namespace: ${namespace} }
spec: ${spec}
---
`;

const POD: ProxyIdentity = { mode: 'sidecar', namespace: 'shop', labels: { app: 'cart' }, inbound: { port: 15006 } };
const LOCAL: ProxyIdentity = { ...POD, inbound: { port: 15006, appPort: 8080 } };

function inbound(yaml: string, proxy: ProxyIdentity) {
  const config = compile(buildIndex(makeSnapshot(loadYaml(yaml).objects, 'v1')), proxy);
  const l = config.listeners.find((x) => x.name === 'virtualInbound')!;
  return { mtls: l.mtls, mtlsByPort: l.mtlsByPort };
}

describe('a pod (the port comes with each connection)', () => {
  test('no PeerAuthentication: PERMISSIVE, nothing per port', () => {
    expect(inbound('', POD)).toEqual({ mtls: 'PERMISSIVE', mtlsByPort: undefined });
  });

  test("the workload's portLevelMtls sets its ports; other ports keep the workload's mode", () => {
    const yaml = pa('cart', 'shop', `{ selector: { matchLabels: { app: cart } }, mtls: { mode: STRICT }, portLevelMtls: { "8080": { mode: DISABLE }, "9090": { mode: STRICT } } }`);
    // 9090 is STRICT like the rest: no entry of its own.
    expect(inbound(yaml, POD)).toEqual({ mtls: 'STRICT', mtlsByPort: { '8080': 'DISABLE' } });
  });

  test('a port left UNSET inherits from the namespace, then the root namespace', () => {
    const yaml =
      pa('root', 'istio-system', '{ mtls: { mode: STRICT } }') +
      pa('ns', 'shop', '{ mtls: { mode: PERMISSIVE } }') +
      pa('cart', 'shop', `{ selector: { matchLabels: { app: cart } }, mtls: { mode: UNSET }, portLevelMtls: { "9000": { mode: STRICT }, "9001": { mode: UNSET } } }`);
    expect(inbound(yaml, POD)).toEqual({ mtls: 'PERMISSIVE', mtlsByPort: { '9000': 'STRICT' } });
  });

  test("another workload's PeerAuthentication does not apply", () => {
    const yaml = pa('other', 'shop', `{ selector: { matchLabels: { app: other } }, portLevelMtls: { "8080": { mode: STRICT } } }`);
    expect(inbound(yaml, POD)).toEqual({ mtls: 'PERMISSIVE', mtlsByPort: undefined });
  });
});

test('mast local (one app port, known ahead): the mode of that port, nothing per port', () => {
  const yaml = pa('cart', 'shop', `{ selector: { matchLabels: { app: cart } }, mtls: { mode: STRICT }, portLevelMtls: { "8080": { mode: DISABLE } } }`);
  expect(inbound(yaml, LOCAL)).toEqual({ mtls: 'DISABLE', mtlsByPort: undefined });
});
