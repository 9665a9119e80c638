/**
 * VirtualService delegation, as Istio does it: a root VirtualService's http route with
 * `delegate: { name, namespace }` stands for the http routes of that delegate VirtualService (one
 * without hosts), each child match merged with the root's: the child's conditions, within the
 * root's. A child match that contradicts the root's (another uri outside its prefix, another
 * method, port, header value...) is dropped, and a child route left with no match is dropped.
 * A delegate that is missing or not exported to the root's namespace sends nothing, as in Istio.
 * Pure: VirtualServices in, the routable ones (roots expanded, delegates themselves left out) out.
 */
import { exportScopes, namespaceOf, visibleIn, type VirtualService } from '../../api';

type HttpRoute = NonNullable<VirtualService['spec']['http']>[number];
type Match = NonNullable<HttpRoute['match']>[number];
type StringMatch = NonNullable<Match['uri']>;

export function expandDelegates(all: readonly VirtualService[]): VirtualService[] {
  const byName = new Map(all.map((vs) => [`${namespaceOf(vs)}/${vs.metadata.name}`, vs]));
  const out: VirtualService[] = [];
  for (const vs of all) {
    if (!vs.spec.hosts?.length) continue; // a delegate: reached only through a root
    if (!vs.spec.http?.some((r) => r.delegate)) {
      out.push(vs);
      continue;
    }
    const http = vs.spec.http.flatMap((root) => {
      if (!root.delegate) return [root];
      const child = byName.get(`${root.delegate.namespace ?? namespaceOf(vs)}/${root.delegate.name}`);
      if (!child || child.spec.hosts?.length || !visibleIn(exportScopes(child.spec.exportTo, namespaceOf(child)), namespaceOf(vs)))
        return [];
      return (child.spec.http ?? []).filter((r) => !r.delegate).flatMap((r) => merged(root, r));
    });
    out.push({ ...vs, spec: { ...vs.spec, http } });
  }
  return out;
}

function merged(root: HttpRoute, child: HttpRoute): HttpRoute[] {
  const { delegate: _d, match: rootMatches, name: rootName, ...rootRest } = root;
  const name = rootName && child.name ? `${rootName}-${child.name}` : (child.name ?? rootName);
  const base = { ...rootRest, ...child, ...(name ? { name } : {}) };
  if (!rootMatches?.length) return [base];
  if (!child.match?.length) return [{ ...base, match: rootMatches }];
  const match = rootMatches.flatMap((r) => child.match!.map((c) => mergeMatch(r, c)).filter((m): m is Match => m !== undefined));
  return match.length ? [{ ...base, match }] : [];
}

/** The child's match within the root's, or undefined when they contradict each other. */
export function mergeMatch(root: Match, child: Match): Match | undefined {
  const out: Match = { ...root, ...child };
  if (root.uri && child.uri) {
    const uri = within(root.uri, child.uri);
    if (!uri) return undefined;
    out.uri = uri;
  }
  for (const key of ['scheme', 'method', 'authority'] as const)
    if (root[key] && child[key] && !same(root[key], child[key])) return undefined;
  if (root.port !== undefined && child.port !== undefined && root.port !== child.port) return undefined;
  if (root.sourceNamespace !== undefined && child.sourceNamespace !== undefined && root.sourceNamespace !== child.sourceNamespace)
    return undefined;
  for (const key of ['headers', 'queryParams', 'withoutHeaders'] as const) {
    if (!root[key] || !child[key]) continue;
    for (const [name, m] of Object.entries(child[key]!)) if (root[key]![name] && !same(root[key]![name], m)) return undefined;
    out[key] = { ...root[key], ...child[key] };
  }
  if (root.sourceLabels && child.sourceLabels) out.sourceLabels = { ...root.sourceLabels, ...child.sourceLabels };
  if (root.gateways && child.gateways) {
    const both = child.gateways.filter((g) => root.gateways!.includes(g));
    if (!both.length) return undefined;
    out.gateways = both;
  }
  if (root.name && child.name) out.name = `${root.name}-${child.name}`;
  return out;
}

const same = (a: StringMatch, b: StringMatch) => a.exact === b.exact && a.prefix === b.prefix && a.regex === b.regex;

/** A child uri inside the root's: equal, or (root a prefix) an exact path or longer prefix under it. */
function within(root: StringMatch, child: StringMatch): StringMatch | undefined {
  if (same(root, child)) return child;
  if (root.prefix === undefined) return undefined;
  if (child.exact !== undefined) return child.exact.startsWith(root.prefix) ? child : undefined;
  if (child.prefix !== undefined) return child.prefix.startsWith(root.prefix) ? child : undefined;
  return undefined;
}
