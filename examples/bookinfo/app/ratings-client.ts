/**
 * How reviews calls `bookinfo.Ratings/Get` when its CALLS name a `grpc://host:port` URL: through
 * the sidecar's outbound listener when MAST_OUTBOUND is set (HTTP/2 with prior knowledge to that
 * address, `:authority` the service's host:port, which the outbound listener routes by), else
 * straight to host:port. The answer reads like an HTTP call's: `status` is the HTTP status the
 * gRPC code maps to (as Envoy maps them), so a failed call degrades the page as a failed HTTP
 * call does, with the gRPC code beside it.
 */
import * as grpc from '@grpc/grpc-js';
import { type GetRequest, RATINGS_DEFINITION, type RatingsReply } from './ratings-grpc';

/** Envoy's mapping of a gRPC code to an HTTP status (Grpc::Utility::grpcToHttpStatus). */
const HTTP_OF_GRPC: Record<number, number> = {
  0: 200,
  1: 499,
  2: 500,
  3: 400,
  4: 504,
  5: 404,
  6: 409,
  7: 403,
  8: 429,
  9: 400,
  10: 409,
  11: 400,
  12: 501,
  13: 500,
  14: 503,
  15: 500,
  16: 401,
};
export const httpStatusOfGrpc = (code: number): number => HTTP_OF_GRPC[code] ?? 500;

export const RatingsClient = grpc.makeGenericClientConstructor(RATINGS_DEFINITION, 'Ratings');
type Client = InstanceType<typeof RatingsClient>;

/**
 * One client (one channel, one multiplexed connection) per target, kept for the process's life:
 * a channel per call would open a connection per call.
 */
const clients = new Map<string, Client>();

export function ratingsClient(authority: string, outbound?: string): Client {
  const key = `${authority} via ${outbound ?? 'direct'}`;
  let client = clients.get(key);
  if (!client) {
    client = new RatingsClient(outbound ?? authority, grpc.credentials.createInsecure(), {
      'grpc.default_authority': authority,
      // The sidecar is the proxy; an http_proxy in the environment must not turn this into a CONNECT tunnel.
      'grpc.enable_http_proxy': 0,
    });
    clients.set(key, client);
  }
  return client;
}

/** Closes every client this process opened (tests; a process that exits need not). */
export function closeRatingsClients(): void {
  for (const c of clients.values()) c.close();
  clients.clear();
}

export interface GrpcCallResult {
  readonly url: string;
  readonly protocol: 'grpc';
  /** The HTTP status the gRPC code maps to (200 for OK). */
  readonly status: number;
  readonly grpcStatus: number;
  readonly error?: string;
  readonly [field: string]: unknown;
}

/** `bookinfo.Ratings/Get` on a `grpc://host:port` URL, with `headers` as metadata; never rejects. */
export function callRatings(
  url: string,
  request: GetRequest,
  headers: Record<string, string | string[] | undefined>,
  outbound?: string,
  timeoutMs = 5000,
): Promise<GrpcCallResult> {
  const authority = new URL(url).host;
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(headers)) for (const item of [v ?? []].flat()) metadata.add(k, item);
  return new Promise((resolve) => {
    ratingsClient(authority, outbound).Get(
      request,
      metadata,
      { deadline: Date.now() + timeoutMs },
      (err: grpc.ServiceError | null, reply?: RatingsReply) => {
        if (err) {
          const grpcStatus = err.code ?? grpc.status.UNKNOWN;
          resolve({
            url,
            protocol: 'grpc',
            status: httpStatusOfGrpc(grpcStatus),
            grpcStatus,
            error: `ratings unavailable: ${err.message}`,
          });
        } else resolve({ url, protocol: 'grpc', status: 200, grpcStatus: grpc.status.OK, ...reply });
      },
    );
  });
}
