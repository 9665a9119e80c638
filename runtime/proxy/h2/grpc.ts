/**
 * gRPC as a proxy sees it: which requests are gRPC, the status a response carries (trailers or a
 * trailers-only head), the `grpc-timeout` a client asks for, and the status a local reply gives a
 * gRPC client in place of an HTTP error (Envoy's `Grpc::Utility::httpToGrpcStatus`).
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';

/** The codes mast names (grpc/status.h). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** `application/grpc`, `application/grpc+proto`, `application/grpc-web...`: answered as gRPC when the proxy replies itself. */
export function isGrpc(contentType: string | undefined): boolean {
  return contentType?.startsWith('application/grpc') === true;
}

/** Envoy's mapping of an HTTP status to the gRPC status a gRPC client gets for it. */
export function httpToGrpcStatus(status: number): number {
  switch (status) {
    case 400:
      return GrpcStatus.INTERNAL;
    case 401:
      return GrpcStatus.UNAUTHENTICATED;
    case 403:
      return GrpcStatus.PERMISSION_DENIED;
    case 404:
      return GrpcStatus.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GrpcStatus.UNAVAILABLE;
    default:
      return GrpcStatus.UNKNOWN;
  }
}

/** The numeric `grpc-status` of a header block, or undefined (absent or not a number). */
export function grpcStatusOf(headers: IncomingHttpHeaders | undefined): number | undefined {
  const v = headers?.['grpc-status'];
  if (typeof v !== 'string' || !/^\d{1,2}$/.test(v)) return undefined;
  return Number(v);
}

/** The numeric `grpc-status` of a header list (a trailers-only head, or trailers), or undefined. */
export function grpcStatusIn(list: ReadonlyArray<readonly [string, string]>): number | undefined {
  for (const [n, v] of list) if (n === 'grpc-status') return grpcStatusOf({ 'grpc-status': v });
  return undefined;
}

const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/** `grpc-timeout` (1 to 8 digits and a unit, gRPC over HTTP/2 spec) in ms; undefined when absent or malformed. */
export function grpcTimeoutMs(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!m) return undefined;
  return Math.max(1, Math.ceil(Number(m[1]) * UNIT_MS[m[2]]));
}

/** `grpc-message` is percent-encoded outside printable ASCII (and `%` itself). */
export const grpcMessage = (s: string) => s.replace(/[^\x20-\x24\x26-\x7e]/gu, (c) => encodeURIComponent(c));

/**
 * A local reply to a gRPC client: HTTP 200, trailers-only (the status in the one head, stream
 * ended), `grpc-status` given or mapped from the HTTP status, the reply's text as `grpc-message`.
 */
export function grpcLocalReply(httpStatus: number, message: string, grpcStatus?: number): OutgoingHttpHeaders {
  return {
    ':status': 200,
    'content-type': 'application/grpc',
    'grpc-status': String(grpcStatus ?? httpToGrpcStatus(httpStatus)),
    ...(message ? { 'grpc-message': grpcMessage(message.trim()) } : {}),
  };
}
