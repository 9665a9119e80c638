/**
 * gRPC status codes by the names Istio's VirtualService `fault.abort.grpcStatus` takes (upper
 * case, exactly; Istio rejects any other spelling), and the retry conditions Envoy's
 * `x-envoy-retry-grpc-on` names after some of them.
 */
export const GRPC_STATUS_CODES: Readonly<Record<string, number>> = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};

/** A `grpcStatus` name's code; undefined for a name Istio does not take. */
export const grpcStatusCode = (name: string): number | undefined =>
  Object.hasOwn(GRPC_STATUS_CODES, name) ? GRPC_STATUS_CODES[name] : undefined;

/**
 * `retryOn` conditions Istio accepts besides HTTP status codes: Envoy's `x-envoy-retry-on` names
 * and its `x-envoy-retry-grpc-on` ones (a gRPC status in a response's trailers or trailers-only head).
 */
export const RETRY_ON_HTTP = [
  '5xx',
  'gateway-error',
  'reset',
  'reset-before-request',
  'connect-failure',
  'retriable-4xx',
  'refused-stream',
  'retriable-status-codes',
  'retriable-headers',
  'envoy-ratelimited',
  'http3-post-connect-failure',
] as const;
export const RETRY_ON_GRPC = ['cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable'] as const;
export const RETRY_ON: ReadonlySet<string> = new Set<string>([...RETRY_ON_HTTP, ...RETRY_ON_GRPC]);

/** The conditions of a `retryOn` string: comma-separated, blanks around each ignored, empty ones dropped. */
export const retryOnConditions = (retryOn: string): string[] =>
  retryOn
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
