/**
 * networking.istio.io/v1 Sidecar: what one workload's sidecar sees (`egress` imports by
 * `namespace/host`), accepts (`ingress` listeners) and does with traffic to hosts the mesh does not
 * know (`outboundTrafficPolicy`); and how an egress host import reads, which the validator and the
 * compiler share.
 */
import { arr, int, labels, obj, oneOf, req, str, strs, type Infer } from './schema';
import { portProtocol } from './common';
import { serverTls } from './gateway';
import { connectionPool } from './destination-rule';
import { hostMatches } from './hosts';

export const sidecarPort = obj({
  number: req(int(0, 65535)),
  protocol: portProtocol,
  name: str(),
  targetPort: int(0, 65535),
});

const captureMode = oneOf(['DEFAULT', 'IPTABLES', 'NONE'] as const);

export const egressListener = obj({
  port: sidecarPort,
  bind: str(),
  captureMode,
  hosts: req(
    strs('`namespace/host` imports: `./*`, `*/*`, `istio-system/*`, `~/*`, `ns/reviews.ns.svc.cluster.local`, `*/*.example.com`.'),
  ),
});

export const ingressListener = obj({
  port: req(sidecarPort),
  bind: str(),
  captureMode,
  defaultEndpoint: str('Where the traffic goes: `127.0.0.1:<port>`, `0.0.0.0:<port>`, `[::1]:<port>`, `[::]:<port>` or `unix://path`.'),
  tls: serverTls,
  connectionPool,
});

export const outboundTrafficPolicyModes = ['REGISTRY_ONLY', 'ALLOW_ANY'] as const;

export const sidecarSpec = obj({
  workloadSelector: obj({ labels: labels('Labels of the pods this Sidecar applies to; absent: every pod of its namespace.') }),
  ingress: arr(ingressListener),
  egress: arr(egressListener),
  inboundConnectionPool: connectionPool,
  outboundTrafficPolicy: obj({
    mode: oneOf(outboundTrafficPolicyModes, 'ALLOW_ANY (default): unknown hosts pass through; REGISTRY_ONLY: they are refused.'),
    egressProxy: obj({ host: req(str()), subset: str(), port: obj({ number: int(1, 65535) }) }),
  }),
});

export type SidecarSpec = Infer<typeof sidecarSpec>;
export type SidecarEgressListener = Infer<typeof egressListener>;
export type SidecarIngressListener = Infer<typeof ingressListener>;
export type OutboundTrafficPolicyMode = (typeof outboundTrafficPolicyModes)[number];

/** One egress host import: which namespaces (`*`: any, a name, or none for `~`) and which host pattern. */
export interface HostImport {
  readonly namespace: string | '*' | '~';
  readonly host: string;
}

/**
 * `ns/host` as Istio reads it in a Sidecar of `sidecarNamespace`: `.` is that namespace, `*` any,
 * `~` none (the host is imported from nowhere); undefined when it is not of that form.
 */
export function parseHostImport(text: string, sidecarNamespace: string): HostImport | undefined {
  const slash = text.indexOf('/');
  if (slash <= 0 || slash === text.length - 1) return undefined;
  const ns = text.slice(0, slash);
  return { namespace: ns === '.' ? sidecarNamespace : ns, host: text.slice(slash + 1).toLowerCase() };
}

/** Does an import cover a service `host` declared in namespace `ns`? */
export function importsHost(imp: HostImport, ns: string, host: string): boolean {
  if (imp.namespace === '~') return false;
  if (imp.namespace !== '*' && imp.namespace !== ns) return false;
  return hostMatches(imp.host, host);
}
