/**
 * The AuthorizationPolicies that apply to one proxy, compiled for its listeners: those in the
 * root namespaces (mast-system, istio-system) for the whole mesh, those in its own namespace,
 * each either without a selector or selecting the proxy's labels. CUSTOM (external authorizers)
 * is not supported and fails closed: its rules deny. AUDIT changes no decision. A policy in dry run
 * (`istio.io/dry-run: "true"`) goes apart, into `dryRun`: evaluated and reported, never enforced. Pure.
 */
import {
  ROOT_NAMESPACES,
  isDryRun,
  mtlsModeAt,
  namespaceOf,
  peerAuthenticationChain,
  selects,
  type AuthorizationPolicy,
  type MtlsMode,
  type PeerAuthentication,
} from '../../api';
import type { AuthzConfig, AuthzRule } from '../contract/authz';
import type { ProxyIdentity } from '../contract/push-protocol';
import { byKind, type MeshIndex } from './mesh-index';
import { expandPrincipals, type TrustDomainBundle } from './trust-domain';

/** `serviceAccounts: [name]` means the policy's namespace (Istio): the proxy matches `ns/name`. */
function qualifyServiceAccounts<T extends { serviceAccounts?: string[]; notServiceAccounts?: string[] }>(source: T, ns: string): T {
  const qualify = (list?: string[]) => list?.map((sa) => (sa.includes('/') ? sa : `${ns}/${sa}`));
  return {
    ...source,
    ...(source.serviceAccounts ? { serviceAccounts: qualify(source.serviceAccounts) } : {}),
    ...(source.notServiceAccounts ? { notServiceAccounts: qualify(source.notServiceAccounts) } : {}),
  };
}

type Source = NonNullable<NonNullable<NonNullable<AuthorizationPolicy['spec']['rules']>[number]['from']>[number]['source']>;
type Condition = NonNullable<NonNullable<AuthorizationPolicy['spec']['rules']>[number]['when']>[number];

/** A rule's principals (from `source` and `source.principal` conditions) in every trust domain of the bundle, as Istio migrates them. */
function migrateSource(source: Source, bundle: TrustDomainBundle): Source {
  return {
    ...source,
    ...(source.principals ? { principals: expandPrincipals(source.principals, bundle) } : {}),
    ...(source.notPrincipals ? { notPrincipals: expandPrincipals(source.notPrincipals, bundle) } : {}),
  };
}

function migrateCondition(w: Condition, bundle: TrustDomainBundle): Condition {
  if (w.key !== 'source.principal') return { ...w };
  return {
    ...w,
    ...(w.values ? { values: expandPrincipals(w.values, bundle) } : {}),
    ...(w.notValues ? { notValues: expandPrincipals(w.notValues, bundle) } : {}),
  };
}

export function authzFor(index: MeshIndex, proxy: ProxyIdentity): AuthzConfig | undefined {
  const bundle = index.meshCompile.trustDomains;
  const policies = (byKind(index, 'AuthorizationPolicy') as AuthorizationPolicy[])
    .filter((p) => ROOT_NAMESPACES.includes(namespaceOf(p)) || namespaceOf(p) === proxy.namespace)
    .filter((p) => !p.spec.selector?.matchLabels || selects(p.spec.selector.matchLabels, proxy.labels))
    .sort((a, b) => `${namespaceOf(a)}/${a.metadata.name}`.localeCompare(`${namespaceOf(b)}/${b.metadata.name}`));
  if (policies.length === 0) return undefined;
  const rulesOf = (p: AuthorizationPolicy): AuthzRule[] =>
    (p.spec.rules ?? []).map((r, i) => ({
      name: `${namespaceOf(p)}/${p.metadata.name}[${i}]`,
      ...(r.from ? { from: r.from.map((f) => qualifyServiceAccounts(migrateSource({ ...f.source }, bundle), namespaceOf(p))) } : {}),
      ...(r.to ? { to: r.to.map((t) => ({ ...t.operation })) } : {}),
      ...(r.when ? { when: r.when.map((w) => migrateCondition(w, bundle)) } : {}),
    }));
  const action = (p: AuthorizationPolicy) => p.spec.action ?? 'ALLOW';
  /** The enforced rules of `of`: DENY and CUSTOM together (CUSTOM fails closed), then ALLOW when any ALLOW policy is there. */
  const rulesFor = (of: AuthorizationPolicy[]): AuthzConfig => {
    const allows = of.filter((p) => action(p) === 'ALLOW');
    return {
      deny: of.filter((p) => action(p) === 'DENY' || action(p) === 'CUSTOM').flatMap(rulesOf),
      ...(allows.length ? { allow: allows.flatMap(rulesOf) } : {}),
    };
  };
  const dryRun = policies.filter(isDryRun);
  return {
    ...rulesFor(policies.filter((p) => !isDryRun(p))),
    ...(dryRun.length ? { dryRun: rulesFor(dryRun) } : {}),
  };
}

/** The PeerAuthentications that apply to a workload, most specific first: its own, its namespace's, the root namespace's. */
function peerAuthChain(index: MeshIndex, proxy: Pick<ProxyIdentity, 'namespace' | 'labels'>): Array<PeerAuthentication | undefined> {
  return peerAuthenticationChain(byKind(index, 'PeerAuthentication') as PeerAuthentication[], proxy);
}

const modeFor = mtlsModeAt;

/**
 * The mTLS mode of a sidecar's inbound, from PeerAuthentication as Istio resolves it
 * (api/peer-authentication.ts): `portLevelMtls` for the app port wins where the port is known
 * (`mast local`); in a pod, mtlsByPortFor gives the port-level modes.
 */
export function mtlsFor(index: MeshIndex, proxy: ProxyIdentity): MtlsMode {
  return modeFor(peerAuthChain(index, proxy), proxy.inbound?.appPort);
}

/** The mTLS mode of a sidecar's inbound on `port` (a Sidecar ingress listener's, which `portLevelMtls` names as a pod's port). */
export function mtlsAtPort(index: MeshIndex, proxy: Pick<ProxyIdentity, 'namespace' | 'labels'>, port: number): MtlsMode {
  return modeFor(peerAuthChain(index, proxy), port);
}

/**
 * Whether a workload's sidecar takes mTLS on `port` (the port its app listens on): not when its
 * PeerAuthentication chain says DISABLE there. Istio's endpoint check: a client then sends plain
 * text to that endpoint even with auto mTLS (its tlsMode label `disabled`).
 */
export function mtlsDisabledAt(index: MeshIndex, namespace: string, labels: Readonly<Record<string, string>>, port: number): boolean {
  if (byKind(index, 'PeerAuthentication').length === 0) return false;
  return modeFor(peerAuthChain(index, { namespace, labels: { ...labels } }), port) === 'DISABLE';
}

/**
 * In a pod (no single app port): the mode of each port a `portLevelMtls` names, where it differs
 * from the pod's; the proxy picks it by the port each connection was sent to.
 */
export function mtlsByPortFor(index: MeshIndex, proxy: ProxyIdentity): Record<string, MtlsMode> | undefined {
  if (!proxy.inbound || proxy.inbound.appPort !== undefined) return undefined;
  const chain = peerAuthChain(index, proxy);
  const fallback = modeFor(chain, undefined);
  const ports = [...new Set(chain.flatMap((p) => Object.keys(p?.spec.portLevelMtls ?? {})))].sort((a, b) => Number(a) - Number(b));
  const byPort = Object.fromEntries(
    ports.map((port) => [port, modeFor(chain, Number(port))] as const).filter(([, mode]) => mode !== fallback),
  );
  return Object.keys(byPort).length ? byPort : undefined;
}
