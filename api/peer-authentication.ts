/**
 * Which PeerAuthentication mode applies to a workload's port, as Istio resolves it: a policy
 * selecting the workload, else its namespace's, else the root namespace's, else PERMISSIVE; UNSET
 * inherits from the next; a `portLevelMtls` entry for the port wins at its level. The compiler
 * (a sidecar's inbound) and the validator (a Sidecar ingress `tls`, applied only where it is
 * DISABLE) read it alike.
 */
import { namespaceOf, selects } from './hosts';
import type { PeerAuthentication } from './resources';
import { ROOT_NAMESPACES } from './validate/policies';

export type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';

/** The PeerAuthentications that apply to a workload, most specific first: its own, its namespace's, the root namespace's. */
export function peerAuthenticationChain(
  all: readonly PeerAuthentication[],
  workload: { readonly namespace: string; readonly labels: Readonly<Record<string, string>> },
): Array<PeerAuthentication | undefined> {
  const inNs = (ns: string) => all.filter((p) => namespaceOf(p) === ns);
  const own = inNs(workload.namespace);
  const selecting = own.find((p) => p.spec.selector?.matchLabels && selects(p.spec.selector.matchLabels, { ...workload.labels }));
  const namespace = own.find((p) => !p.spec.selector?.matchLabels);
  const root = ROOT_NAMESPACES.flatMap(inNs).find((p) => !p.spec.selector?.matchLabels);
  return [selecting, namespace, root];
}

/** The mode of the chain on `port` (undefined: the workload's mode, port-level entries aside). */
export function mtlsModeAt(chain: ReadonlyArray<PeerAuthentication | undefined>, port: number | undefined): MtlsMode {
  for (const p of chain) {
    const mode = (port !== undefined ? p?.spec.portLevelMtls?.[String(port)]?.mode : undefined) ?? p?.spec.mtls?.mode;
    if (mode && mode !== 'UNSET') return mode;
  }
  return 'PERMISSIVE';
}
