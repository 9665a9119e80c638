/** VirtualService http routes → RouteConfig: matches, actions, headers, faults, CORS, retries. */
import { CLAIM_HEADER_PREFIX } from '../contract/jwt';
import {
  fqdn,
  grpcStatusCode,
  parseDuration,
  retryOnConditions,
  selects,
  type HttpRoute,
  type HttpMatchRequest,
  type StringMatch,
  type VirtualService,
} from '../../api';
import {
  DEFAULT_RETRY,
  clusterName,
  type HeaderOpsConfig,
  type MatchConfig,
  type RouteConfig,
  type StringMatchConfig,
  type FaultConfig,
  type WeightedCluster,
} from '../contract/proxy-config';
import type { PortResolver, ServicePort } from './endpoints';

export interface RouteContext {
  /** The gateway this route is compiled for (`ns/name`), or 'mesh' for sidecars. */
  readonly gateway: string;
  readonly matchPort: number;
  /** Resolves a destination to its service port (for the cluster name). */
  readonly portOf: PortResolver;
  /** Called for each cluster a route sends to. */
  readonly useCluster: (host: string, port: ServicePort, subset: string | undefined) => void;
  /** The proxy the routes are for: a match with `sourceLabels` / `sourceNamespace` applies only to its own. */
  readonly source?: { readonly labels: Readonly<Record<string, string>>; readonly namespace: string };
}

const sm = (m: StringMatch | undefined): StringMatchConfig | undefined =>
  m === undefined
    ? undefined
    : m.exact !== undefined
      ? { exact: m.exact }
      : m.prefix !== undefined
        ? { prefix: m.prefix }
        : m.regex !== undefined
          ? { regex: m.regex }
          : { present: true };
const pairs = (m: Record<string, StringMatch> | undefined, lower = true): Array<[string, StringMatchConfig]> | undefined =>
  m && Object.entries(m).map(([k, v]) => [lower && !k.startsWith(CLAIM_HEADER_PREFIX) ? k.toLowerCase() : k, sm(v)!]);
const ops = (
  h: { set?: Record<string, string>; add?: Record<string, string>; remove?: string[] } | undefined,
): HeaderOpsConfig | undefined =>
  h && { set: h.set && Object.entries(h.set), add: h.add && Object.entries(h.add), remove: h.remove?.map((r) => r.toLowerCase()) };
const ms = (d: string | undefined) => (d === undefined ? undefined : parseDuration(d));
const fraction = (p: { value?: number } | undefined, fallbackPercent?: number) => (p?.value ?? fallbackPercent ?? 100) / 100;

function compileMatch(m: HttpMatchRequest): MatchConfig {
  return {
    uri: sm(m.uri),
    method: sm(m.method),
    authority: sm(m.authority),
    scheme: sm(m.scheme),
    headers: pairs(m.headers),
    withoutHeaders: pairs(m.withoutHeaders),
    queryParams: pairs(m.queryParams, false),
    port: m.port,
    ignoreUriCase: m.ignoreUriCase,
  };
}

/** Matches that apply here (their `gateways`/`port` allow it); undefined when none of a rule's do. */
function applicableMatches(route: HttpRoute, ctx: RouteContext, vsNamespace: string): MatchConfig[] | undefined {
  if (!route.match?.length) return [];
  const kept = route.match.filter((m) => appliesHere(m, vsNamespace, ctx));
  return kept.length ? kept.map(compileMatch) : undefined;
}

/** A destination of a `tcp` or `tls` route (the same shape). */
type RouteDestination = NonNullable<NonNullable<VirtualService['spec']['tcp']>[number]['route']>[number];

/** A match of any route kind applies at this port and gateway (or names neither). */
const appliesHere = (
  m: { port?: number; gateways?: string[]; sourceLabels?: Record<string, string>; sourceNamespace?: string },
  vsNamespace: string,
  ctx: RouteContext,
): boolean =>
  (m.port === undefined || m.port === ctx.matchPort) &&
  (!m.gateways?.length || m.gateways.some((g) => normalizeGateway(g, vsNamespace) === ctx.gateway)) &&
  (m.sourceLabels === undefined || (ctx.source !== undefined && selects(m.sourceLabels, ctx.source.labels))) &&
  (m.sourceNamespace === undefined || ctx.source?.namespace === m.sourceNamespace);

/** Whether any VirtualService routes by its client (`sourceLabels` / `sourceNamespace`): then sidecars of one namespace no longer share routes. */
export function routesBySource(vss: readonly VirtualService[]): boolean {
  const bySource = (m: { sourceLabels?: unknown; sourceNamespace?: unknown }) =>
    m.sourceLabels !== undefined || m.sourceNamespace !== undefined;
  return vss.some((vs) =>
    [...(vs.spec.http ?? []), ...(vs.spec.tcp ?? []), ...(vs.spec.tls ?? [])].some((r) => (r.match ?? []).some(bySource)),
  );
}

/**
 * A destination's service port: the one it names; else the service's only port; else, on a
 * sidecar, the port the request came to (Istio's sidecars route `ratings:9090` to ratings' 9090
 * when the destination names no port), if the service has it; else mast's pick (its HTTP port).
 */
function destinationPort(ctx: RouteContext, host: string, port: number | undefined): ServicePort | undefined {
  if (port !== undefined) return ctx.portOf(host, port);
  const fallback = ctx.portOf(host, undefined);
  return (ctx.gateway === 'mesh' && ctx.portOf(host, ctx.matchPort)) || fallback;
}

/** A `tcp` or `tls` route's destinations as weighted clusters (a lone destination weighs 100), each cluster used. */
function weightedClusters(route: readonly RouteDestination[] | undefined, vsNamespace: string, ctx: RouteContext): WeightedCluster[] {
  return (route ?? []).flatMap((d) => {
    const full = fqdn(d.destination.host, vsNamespace);
    const sp = destinationPort(ctx, full, d.destination.port?.number);
    if (!sp) return [];
    ctx.useCluster(full, sp, d.destination.subset);
    return [{ cluster: clusterName(sp.number, d.destination.subset, full), weight: d.weight ?? (route!.length === 1 ? 100 : 0) }];
  });
}

/**
 * A fault abort: `httpStatus`, or `grpcStatus` as Envoy's fault filter answers it: a gRPC request
 * gets that code (HTTP 200, trailers-only), any other request HTTP 200 with no gRPC status to carry
 * (Envoy sets the HTTP code to 200 when the abort is a gRPC one). `http2Error`, which Istio
 * rejects, and an unknown name (MAST0116) abort nothing.
 */
function abortOf(abort: NonNullable<HttpRoute['fault']>['abort']): FaultConfig['abort'] {
  if (abort?.httpStatus) return { status: abort.httpStatus, fraction: fraction(abort.percentage) };
  const grpcStatus = abort?.grpcStatus === undefined ? undefined : grpcStatusCode(abort.grpcStatus);
  return grpcStatus === undefined ? undefined : { status: 200, grpcStatus, fraction: fraction(abort!.percentage) };
}

export const normalizeGateway = (ref: string, namespace: string): string =>
  ref === 'mesh' ? 'mesh' : ref.includes('/') ? ref : `${namespace}/${ref}`;

export function compileHttpRoutes(vs: VirtualService, ctx: RouteContext): RouteConfig[] {
  const ns = vs.metadata.namespace ?? 'default';
  const out: RouteConfig[] = [];
  (vs.spec.http ?? []).forEach((route, i) => {
    const matches = applicableMatches(route, ctx, ns);
    if (matches === undefined) return;
    const dest = (host: string, port: number | undefined, subset: string | undefined): string | undefined => {
      const full = fqdn(host, ns);
      const sp = destinationPort(ctx, full, port);
      if (!sp) return undefined;
      ctx.useCluster(full, sp, subset);
      return clusterName(sp.number, subset, full);
    };
    const name = route.name ?? `${ns}/${vs.metadata.name}#${i}`;
    const common = {
      name,
      matches,
      requestHeaders: ops(route.headers?.request),
      responseHeaders: ops(route.headers?.response),
      fault: route.fault && {
        delay: route.fault.delay?.fixedDelay
          ? { ms: ms(route.fault.delay.fixedDelay)!, fraction: fraction(route.fault.delay.percentage, route.fault.delay.percent) }
          : undefined,
        abort: abortOf(route.fault.abort),
      },
      cors: route.corsPolicy && {
        allowOrigins: (route.corsPolicy.allowOrigins ?? []).map((o) => sm(o)!),
        allowMethods: route.corsPolicy.allowMethods,
        allowHeaders: route.corsPolicy.allowHeaders,
        exposeHeaders: route.corsPolicy.exposeHeaders,
        maxAgeSeconds: route.corsPolicy.maxAge ? Math.round(ms(route.corsPolicy.maxAge)! / 1000) : undefined,
        allowCredentials: route.corsPolicy.allowCredentials,
      },
    };
    if (route.redirect) {
      const r = route.redirect;
      out.push({
        ...common,
        action: { kind: 'redirect', uri: r.uri, authority: r.authority, scheme: r.scheme, port: r.port, status: r.redirectCode ?? 301 },
      });
      return;
    }
    if (route.directResponse) {
      out.push({
        ...common,
        action: {
          kind: 'direct',
          status: route.directResponse.status,
          body:
            route.directResponse.body?.string ??
            (route.directResponse.body?.bytes ? Buffer.from(route.directResponse.body.bytes, 'base64').toString('latin1') : undefined),
        },
      });
      return;
    }
    const destinations = (route.route ?? []).flatMap((d) => {
      const cluster = dest(d.destination.host, d.destination.port?.number, d.destination.subset);
      return cluster
        ? [
            {
              cluster,
              weight: d.weight ?? (route.route!.length === 1 ? 100 : 0),
              requestHeaders: ops(d.headers?.request),
              responseHeaders: ops(d.headers?.response),
            },
          ]
        : [];
    });
    const mirrors = [
      ...(route.mirror ? [{ d: route.mirror, f: fraction(route.mirrorPercentage, route.mirrorPercent) }] : []),
      ...(route.mirrors ?? []).map((m) => ({ d: m.destination, f: fraction(m.percentage) })),
    ].flatMap(({ d, f }) => {
      const cluster = dest(d.host, d.port?.number, d.subset);
      return cluster ? [{ cluster, fraction: f }] : [];
    });
    const retries = route.retries
      ? {
          attempts: route.retries.attempts ?? DEFAULT_RETRY.attempts,
          perTryTimeoutMs: ms(route.retries.perTryTimeout),
          retryOn: route.retries.retryOn ? retryOnConditions(route.retries.retryOn) : DEFAULT_RETRY.retryOn,
          ...(route.retries.retryIgnorePreviousHosts === false ? { previousHosts: false } : {}),
          ...(route.retries.backoff ? { backoffBaseMs: ms(route.retries.backoff) } : {}),
        }
      : DEFAULT_RETRY;
    out.push({
      ...common,
      action: {
        kind: 'forward',
        destinations,
        timeoutMs: ms(route.timeout) || undefined,
        retries,
        rewrite: route.rewrite && {
          uriPrefix: route.rewrite.uri,
          authority: route.rewrite.authority,
          ...(route.rewrite.uriRegexRewrite ? { uriRegex: regexRewrite(route.rewrite.uriRegexRewrite) } : {}),
        },
        mirrors: mirrors.length ? mirrors : undefined,
      },
    });
  });
  return out;
}

/** A VirtualService's `tls` routes that apply at this gateway port, by server name (TLS PASSTHROUGH). */
export function compileTlsRoutes(vs: VirtualService, ctx: RouteContext): Array<{ sniHosts: string[]; destinations: WeightedCluster[] }> {
  const ns = vs.metadata.namespace ?? 'default';
  return (vs.spec.tls ?? []).flatMap((route) => {
    const matches = (route.match ?? []).filter((m) => appliesHere(m, ns, ctx));
    if (!matches.length) return [];
    return [
      { sniHosts: matches.flatMap((m) => m.sniHosts.map((h) => h.toLowerCase())), destinations: weightedClusters(route.route, ns, ctx) },
    ];
  });
}

/**
 * A VirtualService's first `tcp` route that applies here (its match names this port and gateway,
 * or has no match), as weighted clusters; undefined when none does.
 */
export function compileTcpRoute(vs: VirtualService, ctx: RouteContext): WeightedCluster[] | undefined {
  const ns = vs.metadata.namespace ?? 'default';
  const route = (vs.spec.tcp ?? []).find((r) => !r.match?.length || r.match.some((m) => appliesHere(m, ns, ctx)));
  return route && weightedClusters(route.route, ns, ctx);
}

/**
 * Istio's `uriRegexRewrite`, passed on as written: the proxy runs it with RE2 semantics
 * (api/regex.ts: every match replaced, `\1` for a group, as Envoy's regex_rewrite).
 */
export function regexRewrite(r: { match: string; rewrite: string }): { pattern: string; replacement: string } {
  return { pattern: r.match, replacement: r.rewrite };
}
