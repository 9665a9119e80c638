/**
 * Telemetry `filter.expression`: a CEL expression over Envoy's attributes (`response.code`,
 * `request.headers['x-foo']`, `connection.mtls`, `xds.cluster_name`...), planned once per config
 * with @bufbuild/cel and run on each finished request. As Envoy's CEL access log filter, a request
 * is logged only when the expression is `true`: an attribute the request has not (no response code
 * when the connection failed) or an error logs nothing; Istio's tasks guard with `has(...)`.
 */
import { isIP } from 'node:net';
import type { CelEnv } from '@bufbuild/cel';
import { celLibrary } from '../../../api';
import type { RequestRecord } from '../request/record';

export type Filter = (r: RequestRecord) => boolean;

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

const hostPort = (hp: string | undefined): { address?: string; port?: bigint } => {
  if (!hp) return {};
  const i = hp.lastIndexOf(':');
  return i < 0 ? { address: hp } : { address: hp.slice(0, i), port: BigInt(Number(hp.slice(i + 1)) || 0) };
};

/** Envoy's attributes of a finished request, as far as mast-proxy has them (ints as bigint, CEL's int). */
export function attributesOf(r: RequestRecord): Record<string, unknown> {
  const req = r.request;
  const q = req.target.indexOf('?');
  const principal = req.peer?.principal;
  const peerUri = principal === undefined ? undefined : principal.startsWith('spiffe://') ? principal : `spiffe://${principal}`;
  const headers = celLibrary().celMap(new Headers((n) => req.header(n)));
  const optional = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  return {
    request: optional({
      path: req.target,
      url_path: q < 0 ? req.target : req.target.slice(0, q),
      host: r.authority,
      scheme: req.scheme,
      method: req.method,
      headers,
      referer: req.header('referer'),
      useragent: req.header('user-agent'),
      id: r.requestId || req.header('x-request-id'),
      protocol: r.protocol,
      query: q < 0 ? '' : req.target.slice(q + 1),
      size: BigInt(r.bytesIn),
    }),
    // A request that got no response (status 0: the client went away) has no response.code, as in Envoy.
    response: optional({
      code: r.status > 0 ? BigInt(r.status) : undefined,
      code_details: r.details,
      grpc_status: r.grpcStatus === undefined ? undefined : BigInt(r.grpcStatus),
      size: BigInt(r.bytesOut),
    }),
    source: optional({ address: req.remoteAddress, port: BigInt(req.remotePort) }),
    destination:
      req.originalAddress !== undefined && isIP(req.originalAddress)
        ? optional({ address: req.originalAddress, port: req.originalPort === undefined ? undefined : BigInt(req.originalPort) })
        : {},
    connection: optional({ mtls: principal !== undefined, uri_san_peer_certificate: peerUri }),
    upstream: optional(hostPort(r.upstream)),
    xds: optional({ cluster_name: r.cluster?.name, route_name: r.route }),
  };
}

/** The filter of an expression; throws with the parse error for one that is not CEL. */
export function compileFilter(expression: string): Filter {
  const cel = celLibrary();
  env ??= cel.celEnv();
  const run = cel.plan(env, cel.parse(expression));
  return (r) => {
    // An error (an attribute the request has not) is a value, not thrown: it logs nothing; nor does
    // anything a request's headers could make the evaluator throw.
    try {
      return run(attributesOf(r) as never) === true;
    } catch {
      return false;
    }
  };
}
