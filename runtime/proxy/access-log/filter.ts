/**
 * Telemetry `filter.expression`: a CEL expression over Envoy's attributes (`response.code`,
 * `request.headers['x-foo']`, `connection.mtls`, `xds.cluster_name`...), planned once per config
 * with @bufbuild/cel and run on each finished request. As Envoy's CEL access log filter, a request
 * is logged only when the expression is `true`: an attribute the request has not (no response code
 * when the connection failed) or an error logs nothing; Istio's tasks guard with `has(...)`. A TCP
 * connection's record has Envoy's connection attributes (source, destination, connection, upstream,
 * xds) and no request line, headers or response code: `response.code >= 400` is false for it, as
 * for Envoy's tcp_proxy, and `request.size`/`response.size` are its bytes received/sent.
 */
import { isIP } from 'node:net';
import type { CelEnv } from '@bufbuild/cel';
import { celLibrary } from '../../../api';
import type { RequestRecord } from '../request/record';
import type { ConnectionRecord } from '../tcp-record';

export type Filter<R = RequestRecord> = (r: R) => boolean;

/** The library and its environment, made when a config first has a filter (a proxy without one never loads it). */
let env: CelEnv | undefined;

/** The request's headers as a CEL map read on demand: a filter names one or two, a request may have dozens. */
class Headers extends Map<string, string> {
  constructor(private readonly header: (name: string) => string | undefined) {
    super();
  }
  override get(key: string): string | undefined {
    return typeof key === 'string' ? this.header(key.toLowerCase()) : undefined;
  }
  override has(key: string): boolean {
    return this.get(key) !== undefined;
  }
}

/** An object of the defined values only: an attribute the request has not is absent (`has()` is false). */
function defined(o: Record<string, unknown>): Record<string, unknown> {
  for (const k in o) if (o[k] === undefined) delete o[k];
  return o;
}

const peerUri = (r: RequestRecord) => {
  const p = r.request.peer?.principal;
  return p === undefined ? undefined : p.startsWith('spiffe://') ? p : `spiffe://${p}`;
};

/** Envoy's attributes of a finished request by their root, as far as mast-proxy has them (ints as bigint, CEL's int). */
const ROOTS: Readonly<Record<string, (r: RequestRecord) => Record<string, unknown>>> = {
  request: (r) => {
    const req = r.request;
    const q = req.target.indexOf('?');
    return defined({
      path: req.target,
      url_path: q < 0 ? req.target : req.target.slice(0, q),
      host: r.authority,
      scheme: req.scheme,
      method: req.method,
      headers: celLibrary().celMap(new Headers((n) => req.header(n))),
      referer: req.header('referer'),
      useragent: req.header('user-agent'),
      id: r.requestId || req.header('x-request-id'),
      protocol: r.protocol,
      query: q < 0 ? '' : req.target.slice(q + 1),
      size: BigInt(r.bytesIn),
    });
  },
  // A request that got no response (status 0: the client went away) has no response.code, as in Envoy.
  response: (r) =>
    defined({
      code: r.status > 0 ? BigInt(r.status) : undefined,
      code_details: r.details,
      grpc_status: r.grpcStatus === undefined ? undefined : BigInt(r.grpcStatus),
      size: BigInt(r.bytesOut),
    }),
  source: (r) => ({ address: r.request.remoteAddress, port: BigInt(r.request.remotePort) }),
  // Where the client meant to go: the port even when it named a host (an app using the sidecar as its HTTP proxy), an address only as an IP.
  destination: (r) => {
    const { originalAddress: address, originalPort: port } = r.request;
    return defined({
      address: address !== undefined && isIP(address) ? address : undefined,
      port: port === undefined ? undefined : BigInt(port),
    });
  },
  connection: (r) => defined({ mtls: r.request.peer?.principal !== undefined, uri_san_peer_certificate: peerUri(r) }),
  upstream: (r) => {
    const hp = r.upstream;
    const i = hp ? hp.lastIndexOf(':') : -1;
    return !hp ? {} : i < 0 ? { address: hp } : { address: hp.slice(0, i), port: BigInt(Number(hp.slice(i + 1)) || 0) };
  },
  xds: (r) => defined({ cluster_name: r.cluster?.name, route_name: r.route }),
};

const hostAndPort = (hp: string | undefined): Record<string, unknown> => {
  const i = hp ? hp.lastIndexOf(':') : -1;
  return !hp ? {} : i < 0 ? { address: hp } : { address: hp.slice(0, i), port: BigInt(Number(hp.slice(i + 1)) || 0) };
};

/** No headers: an empty CEL map (`request.headers['x']` is absent, not an error of its own). */
const noHeaders = () => celLibrary().celMap(new Map<string, string>());

/** Envoy's attributes of a closed TCP connection by their root (its tcp_proxy's stream info: no HTTP request, no response code). */
const CONNECTION_ROOTS: Readonly<Record<string, (c: ConnectionRecord) => Record<string, unknown>>> = {
  request: (c) => ({ headers: noHeaders(), size: BigInt(c.bytesIn) }),
  response: (c) => ({ headers: noHeaders(), size: BigInt(c.bytesOut) }),
  source: (c) => hostAndPort(c.remote),
  destination: (c) => hostAndPort(c.local),
  connection: (c) =>
    defined({
      mtls: c.principal !== undefined,
      requested_server_name: c.serverName ?? '',
      uri_san_peer_certificate:
        c.principal === undefined ? undefined : c.principal.startsWith('spiffe://') ? c.principal : `spiffe://${c.principal}`,
    }),
  upstream: (c) => hostAndPort(c.upstream),
  xds: (c) => defined({ cluster_name: c.cluster }),
};

/** The attributes of a request under the roots given (all by default). */
export function attributesOf(r: RequestRecord, roots: readonly string[] = Object.keys(ROOTS)): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const root of roots) out[root] = ROOTS[root](r);
  return out;
}

/** The attributes of a TCP connection under the roots given (all by default). */
export function connectionAttributesOf(
  c: ConnectionRecord,
  roots: readonly string[] = Object.keys(CONNECTION_ROOTS),
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const root of roots) out[root] = CONNECTION_ROOTS[root](c);
  return out;
}

/** The attribute roots (`request`, `upstream_peer`, …) that any of the CEL `sources` names as a word. */
export function rootsNamed(roots: readonly string[], sources: readonly string[]): string[] {
  return roots.filter((root) => sources.some((src) => new RegExp(`\\b${root}\\b`).test(src)));
}

/** An expression planned once, run over the attributes `of` makes for a record. */
function filterOver<R>(
  run: (attributes: never) => unknown,
  expression: string,
  table: Readonly<Record<string, unknown>>,
  of: (r: R, roots: readonly string[]) => Record<string, unknown>,
): Filter<R> {
  // Only the roots the expression names are made for each record (`response.code >= 400`: one small object).
  const roots = rootsNamed(Object.keys(table), [expression]);
  return (r) => {
    // An error (an attribute the record has not) is a value, not thrown: it logs nothing; nor does
    // anything a request's headers could make the evaluator throw.
    try {
      return run(of(r, roots) as never) === true;
    } catch {
      return false;
    }
  };
}

/** An expression planned in the proxy's CEL environment (made on first use); throws with the parse error for one that is not CEL. */
export function plan(expression: string): (attributes: never) => unknown {
  const cel = celLibrary();
  env ??= cel.celEnv();
  return cel.plan(env, cel.parse(expression)) as (attributes: never) => unknown;
}

/** The filter of an expression; throws with the parse error for one that is not CEL. */
export function compileFilter(expression: string): Filter {
  return filterOver(plan(expression), expression, ROOTS, attributesOf);
}

/** An expression's filters of requests and of TCP connections, planned once; throws with the parse error for one that is not CEL. */
export function compileFilters(expression: string): { readonly request: Filter; readonly connection: Filter<ConnectionRecord> } {
  const run = plan(expression);
  return {
    request: filterOver(run, expression, ROOTS, attributesOf),
    connection: filterOver(run, expression, CONNECTION_ROOTS, connectionAttributesOf),
  };
}
