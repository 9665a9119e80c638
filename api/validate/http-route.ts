/** Rules inside one VirtualService: actions, weights, percentages, string matches. */
import { finding, type Finding } from '../findings';
import type { VirtualService } from '../resources';
import type { HttpRoute, StringMatch } from '../virtual-service';
import { isToken } from '../tokens';
import { isValidHost } from '../hosts';
import { checkRe2Rewrite } from '../regex';
import { checkGrpcRoute } from './grpc';

type Percent = { value?: number } | undefined;

export function checkVirtualService(vs: VirtualService): Finding[] {
  const out: Finding[] = [];
  const spec = vs.spec;
  (spec.hosts ?? []).forEach((host, i) => {
    if (!isToken(host) && !isValidHost(host)) out.push(finding('MAST0110', vs, `spec.hosts[${i}]`, `"${host}" is not a valid host name`));
  });
  // Without hosts it is a delegate (Istio): reached through a root's `delegate`, one level deep, with the root's gateways.
  const delegate = !spec.hosts?.length;
  if (delegate && spec.gateways?.length)
    out.push(
      finding(
        'MAST0004',
        vs,
        'spec.gateways',
        'a delegate VirtualService (no hosts) takes the gateways of the VirtualService delegating to it; leave gateways empty',
      ),
    );
  (spec.http ?? []).forEach((route, i) => {
    checkHttpRoute(vs, route, `spec.http[${i}]`, out);
    if (delegate && route.delegate)
      out.push(
        finding(
          'MAST0004',
          vs,
          `spec.http[${i}].delegate`,
          'a delegate VirtualService (no hosts) cannot delegate again: one level, as in Istio',
        ),
      );
  });
  for (const [section, routes] of [
    ['tcp', spec.tcp],
    ['tls', spec.tls],
  ] as const)
    (routes ?? []).forEach((route, i) => checkWeights(vs, route.route ?? [], `spec.${section}[${i}]`, out));
  return out;
}

function checkHttpRoute(vs: VirtualService, route: HttpRoute, path: string, out: Finding[]): void {
  const actions = (['route', 'redirect', 'directResponse', 'delegate'] as const).filter(
    (k) => route[k] !== undefined && !(k === 'route' && route.route?.length === 0),
  );
  if (actions.length === 0)
    out.push(finding('MAST0108', vs, path, 'an HTTP route needs one of route, redirect, directResponse or delegate'));
  if (actions.length > 1)
    out.push(
      finding(
        'MAST0103',
        vs,
        path,
        `route sets ${actions.join(' and ')}; only one of route, redirect, directResponse, delegate may be set`,
      ),
    );
  if (route.rewrite?.uri !== undefined && route.rewrite.uriRegexRewrite)
    out.push(finding('MAST0004', vs, `${path}.rewrite`, 'set either rewrite.uri or rewrite.uriRegexRewrite, not both'));
  const rr = route.rewrite?.uriRegexRewrite;
  const badRewrite =
    rr && typeof rr.match === 'string' && typeof rr.rewrite === 'string' ? checkRe2Rewrite(rr.match, rr.rewrite) : undefined;
  if (badRewrite) out.push(finding('MAST0105', vs, `${path}.rewrite.uriRegexRewrite.rewrite`, badRewrite));
  if (route.mirror && route.mirrors)
    out.push(finding('MAST0113', vs, `${path}.mirrors`, 'set either mirror (with mirrorPercentage) or mirrors, not both'));
  checkWeights(vs, route.route ?? [], path, out);
  checkPercent(vs, route.mirrorPercentage, `${path}.mirrorPercentage`, out);
  if (route.mirrorPercent !== undefined)
    out.push(
      finding(
        'MAST0134',
        vs,
        `${path}.mirrorPercent`,
        route.mirrorPercentage
          ? 'mirrorPercent is deprecated in Istio and mirrorPercentage is set, which wins: remove mirrorPercent'
          : `mirrorPercent is deprecated in Istio: write mirrorPercentage: { value: ${route.mirrorPercent} } (applied the same)`,
      ),
    );
  route.mirrors?.forEach((m, i) => checkPercent(vs, m.percentage, `${path}.mirrors[${i}].percentage`, out));
  checkPercent(vs, route.fault?.delay?.percentage, `${path}.fault.delay.percentage`, out);
  checkPercent(vs, route.fault?.abort?.percentage, `${path}.fault.abort.percentage`, out);
  if (route.fault?.delay && route.fault.delay.fixedDelay === undefined)
    out.push(finding('MAST0003', vs, `${path}.fault.delay.fixedDelay`, 'a delay fault needs fixedDelay'));
  if (
    route.fault?.abort &&
    route.fault.abort.httpStatus === undefined &&
    route.fault.abort.grpcStatus === undefined &&
    route.fault.abort.http2Error === undefined
  )
    out.push(finding('MAST0003', vs, `${path}.fault.abort.httpStatus`, 'an abort fault needs httpStatus or grpcStatus'));
  checkGrpcRoute(vs, route, path, out);
  route.match?.forEach((m, i) => {
    const at = `${path}.match[${i}]`;
    for (const key of ['uri', 'scheme', 'method', 'authority'] as const) checkStringMatch(vs, m[key], `${at}.${key}`, out);
    for (const key of ['headers', 'queryParams', 'withoutHeaders'] as const)
      for (const [name, sm] of Object.entries(m[key] ?? {})) checkStringMatch(vs, sm, `${at}.${key}["${name}"]`, out, true);
  });
  route.corsPolicy?.allowOrigins?.forEach((sm, i) => checkStringMatch(vs, sm, `${path}.corsPolicy.allowOrigins[${i}]`, out));
}

/** Istio sends each destination weight/sum; only an all-zero total routes nowhere. */
function checkWeights(vs: VirtualService, routes: ReadonlyArray<{ weight?: number }>, path: string, out: Finding[]): void {
  if (routes.length === 0 || routes.some((r) => isToken(r.weight))) return;
  const weights = routes.map((r) => r.weight);
  if (routes.length === 1 && weights[0] === undefined) return;
  const total = weights.reduce<number>((sum, w) => sum + (w ?? 0), 0);
  if (total === 0)
    out.push(finding('MAST0101', vs, `${path}.route`, `all ${routes.length} destination weights are 0, so nothing can be routed`));
  else if (total !== 100)
    out.push(finding('MAST0102', vs, `${path}.route`, `weights sum to ${total}; each destination gets weight/${total} of the traffic`));
}

function checkPercent(vs: VirtualService, pct: Percent, path: string, out: Finding[]): void {
  const value = pct?.value;
  if (value === undefined || isToken(value)) return;
  if (!(value >= 0 && value <= 100)) out.push(finding('MAST0104', vs, `${path}.value`, `${value} is outside 0-100`));
}

/** An empty match object means "present" for headers and query parameters, as in Istio. */
function checkStringMatch(vs: VirtualService, sm: StringMatch | undefined, path: string, out: Finding[], emptyMeansPresent = false): void {
  if (!sm) return;
  const set = (['exact', 'prefix', 'regex'] as const).filter((k) => sm[k] !== undefined);
  if (set.length > 1) out.push(finding('MAST0107', vs, path, `sets ${set.join(' and ')}; use exactly one of exact, prefix, regex`));
  if (set.length === 0 && !emptyMeansPresent) out.push(finding('MAST0107', vs, path, 'sets none of exact, prefix, regex'));
}
