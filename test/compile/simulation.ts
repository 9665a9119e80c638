/**
 * Simulation tables for the compiler, in the manner of Istio's `*_simulation_test.go`: given a
 * mesh (YAML) and a proxy, each call (port, host, path, headers, SNI) goes there: listener,
 * virtual host, route, cluster, endpoints, or a local reply (status, location), with the upstream
 * path and authority after rewrites and the route's plan (timeout, retries, mirrors, fault).
 * Compile → simulate (runtime/proxy/simulate.ts: the proxy's route matching) → the proxy's pure
 * route actions (rewrite, redirect, CORS), in the order the proxy applies them. No sockets.
 */
import { loadYaml, validate, type KubeObject } from '../../api';
import { buildIndex, compile, makeSnapshot, type ProxyIdentity } from '../../runtime/compile';
import { corsPreflight } from '../../runtime/proxy/request/cors';
import { redirectLocation } from '../../runtime/proxy/request/route';
import { regexRewritePath, rewritePath } from '../../runtime/proxy/request/upstream-head';
import type { HeaderOpsConfig, ProxyConfig, RetryConfig, ServerTlsConfig } from '../../runtime/contract/proxy-config';
import { simulate, type SimulatedRequest } from '../../runtime/proxy/simulate';

export interface Outcome {
  readonly outcome: 'no-listener' | 'no-route' | 'no-server' | 'https-redirect' | 'routed' | 'connection' | 'passthrough' | 'blackhole';
  readonly listener?: string;
  /** A gateway's terminated TLS server the connection got (by SNI), and its certificate settings. */
  readonly server?: string;
  readonly tls?: ServerTlsConfig;
  readonly virtualHost?: string;
  readonly route?: string;
  readonly cluster?: string;
  readonly endpoints?: string[];
  /** The HTTP version the cluster speaks upstream: `h2`, `client` (the client's), or `http/1.1`. */
  readonly upstreamProtocol?: 'h2' | 'client' | 'http/1.1';
  /** A fault abort's gRPC code: what a gRPC request gets (in `grpc-status`, HTTP 200); `status` is any other request's. */
  readonly grpcStatus?: number;
  /** Answered by the proxy itself (no route 404, redirect, direct response, fault abort, CORS preflight, https redirect). */
  readonly status?: number;
  readonly location?: string;
  readonly body?: string;
  /** Response headers of a local reply (CORS preflight). */
  readonly headers?: Record<string, string>;
  /** What the upstream request carries after rewrites. */
  readonly path?: string;
  readonly authority?: string;
  readonly timeoutMs?: number;
  readonly retries?: RetryConfig;
  readonly mirrors?: string[];
  /** A fault delay the request waits first (ms). */
  readonly delayMs?: number;
  /** Header operations on the upstream request and on the response, in the order applied: the route's, then the destination's. */
  readonly requestHeaders?: HeaderOpsConfig[];
  readonly responseHeaders?: HeaderOpsConfig[];
}

export interface Call {
  readonly name: string;
  readonly request: Partial<SimulatedRequest> & { readonly host?: string };
  /** In [0, 1): picks the weighted destination, and a fault whose fraction is above it fires. @default 0 */
  readonly random?: number;
  /** The fields given must equal the outcome's (a field given as undefined must be absent). */
  readonly expect: Partial<Outcome>;
}

export interface SimulationCase {
  readonly name: string;
  readonly mesh: string;
  readonly proxy: ProxyIdentity;
  /** Port when a call names none. @default 80 */
  readonly port?: number;
  readonly calls: readonly Call[];
}

export const GATEWAY: ProxyIdentity = { mode: 'gateway', namespace: 'mast-system', labels: { istio: 'ingressgateway' } };
export const sidecar = (namespace = 'default', labels: Record<string, string> = { app: 'client' }): ProxyIdentity => ({
  mode: 'sidecar',
  namespace,
  labels,
});

/** A STATIC mesh-internal ServiceEntry `name.namespace.svc.cluster.local` with one port (named for its protocol) and inline endpoints, as YAML. */
export const staticService = (name: string, namespace: string, port: number, protocol: string, addresses: readonly string[]): string =>
  `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name}, namespace: ${namespace} }
spec: { hosts: [${name}.${namespace}.svc.cluster.local], location: MESH_INTERNAL, resolution: STATIC, ports: [{ number: ${port}, name: ${protocol.toLowerCase()}, protocol: ${protocol} }], endpoints: [${addresses.map((a) => `{ address: ${a} }`).join(', ')}] }`;

/** The ratings ServiceEntry (mesh-internal, STATIC) with these ports (YAML flow mappings) and what backs them: a spec line of `endpoints` or a `workloadSelector`. */
export const ratingsEntry = (ports: string, backing: string): string =>
  `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ratings, namespace: default }
spec:
  hosts: [ratings.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [${ports}]
  ${backing}`;

export function meshOf(yaml: string): KubeObject[] {
  const loaded = loadYaml(yaml);
  if (loaded.findings.length) throw new Error(`mesh YAML: ${loaded.findings.map((f) => f.message).join('; ')}`);
  return loaded.objects;
}

export const compileMesh = (yaml: string, proxy: ProxyIdentity): ProxyConfig =>
  compile(buildIndex(makeSnapshot(meshOf(yaml), 'v1')), proxy);

/** What the proxy does with a request, from the compiled config alone. */
export function outcome(config: ProxyConfig, call: SimulatedRequest, random = 0): Outcome {
  const r = simulate(config, call, random);
  if (r.outcome === 'no-listener' || r.outcome === 'no-server') return r;
  if (r.outcome === 'no-route')
    return { ...r, ...(config.listeners.find((l) => l.name === r.listener)?.protocol === 'http' ? { status: 404 } : {}) };
  if (r.outcome === 'https-redirect') return { ...r, status: 301, location: `https://${call.host}${call.path ?? '/'}` };
  if (r.outcome === 'connection' || r.outcome === 'passthrough') return r;
  // REGISTRY_ONLY: a request gets Istio's block_all 502; a connection (no HTTP listener) is reset.
  if (r.outcome === 'blackhole')
    return { ...r, ...(config.listeners.find((l) => l.name === r.listener)?.protocol === 'http' ? { status: 502 } : {}) };
  const { action, ...where } = r;
  const headers = Object.fromEntries(Object.entries({ host: call.host, ...call.headers }).map(([k, v]) => [k.toLowerCase(), v]));
  const req = {
    target: call.path ?? '/',
    host: call.host.replace(/:\d+$/, ''),
    port: call.port ?? 80,
    scheme: call.scheme ?? 'http',
    method: call.method ?? 'GET',
    header: (n: string) => headers[n],
  };
  const route = routeConfig(config, r.listener, r.virtualHost, r.route, r.server);
  const preflight = route.cors && corsPreflight(route.cors, req);
  if (preflight) return { ...where, status: 200, headers: Object.fromEntries(preflight) };
  const abort = route.fault?.abort;
  if (abort && random < abort.fraction)
    return { ...where, status: abort.status, ...(abort.grpcStatus !== undefined ? { grpcStatus: abort.grpcStatus } : {}) };
  const delayMs = route.fault?.delay && random < route.fault.delay.fraction ? route.fault.delay.ms : undefined;
  if (action.kind === 'redirect') return { ...where, status: action.status, location: redirectLocation(action, req) };
  if (action.kind === 'direct') return { ...where, status: action.status, body: action.body };
  const destination = action.destinations.find((d) => d.cluster === r.cluster);
  const ops = (list: Array<HeaderOpsConfig | undefined>) => list.filter((o): o is HeaderOpsConfig => o !== undefined);
  const requestHeaders = ops([route.requestHeaders, destination?.requestHeaders]);
  const responseHeaders = ops([route.responseHeaders, destination?.responseHeaders]);
  const rewrite = action.rewrite;
  const path = rewrite?.uriRegex
    ? regexRewritePath(req.target, rewrite.uriRegex)
    : rewrite?.uriPrefix !== undefined
      ? rewritePath(route, req.target, rewrite.uriPrefix)
      : req.target;
  const cluster = config.clusters.find((c) => c.name === r.cluster);
  return {
    ...where,
    ...(cluster ? { upstreamProtocol: cluster.upstreamProtocol ?? 'http/1.1' } : {}),
    path,
    authority: rewrite?.authority ?? headers.host,
    ...(action.timeoutMs !== undefined ? { timeoutMs: action.timeoutMs } : {}),
    ...(action.retries ? { retries: action.retries } : {}),
    ...(action.mirrors ? { mirrors: action.mirrors.map((m) => `${m.cluster}@${m.fraction}`) } : {}),
    ...(delayMs !== undefined ? { delayMs } : {}),
    ...(requestHeaders.length ? { requestHeaders } : {}),
    ...(responseHeaders.length ? { responseHeaders } : {}),
  };
}

function routeConfig(config: ProxyConfig, listener: string, vhost: string, route: string, server?: string) {
  const l = config.listeners.find((x) => x.name === listener)!;
  const vhosts = server === undefined ? l.virtualHosts! : l.tlsServers!.find((s) => s.name === server)!.virtualHosts;
  return vhosts.find((v) => v.name === vhost)!.routes.find((x) => x.name === route)!;
}

/** Asserts only the fields a row names; a field named with `undefined` must be absent. */
function expectFields(actual: Outcome, expected: Partial<Outcome>): void {
  const picked = Object.fromEntries(Object.keys(expected).map((k) => [k, actual[k as keyof Outcome]]));
  expect(picked).toEqual(expected);
}

/** One describe per case, one test per call; the mesh must be free of validation errors (a table tests the compiler, not the validator). */
export function runSimulations(cases: readonly SimulationCase[]): void {
  for (const c of cases)
    describe(c.name, () => {
      const objects = meshOf(c.mesh);
      const config = compile(buildIndex(makeSnapshot(objects, 'v1')), c.proxy);
      test('the mesh is valid', () => {
        expect(validate(objects, { defaultIngressGateway: true }).filter((f) => f.severity === 'Error')).toEqual([]);
      });
      test.each(c.calls.map((call) => [call.name, call] as const))('%s', (_name, call) => {
        const request: SimulatedRequest = { port: c.port ?? 80, host: 'example.com', ...call.request };
        expectFields(outcome(config, request, call.random ?? 0), call.expect);
      });
    });
}

/** Weighted picks that are the same on every run (test/support/seeded-random.ts). */
export { seededRandom as seeded } from '../support/seeded-random';
