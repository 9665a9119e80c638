/**
 * The retry policy, in one place: which outcomes a route's `retries` covers (Envoy's retry_on),
 * whether this request may be tried again, which endpoints a retry avoids, and the back-off.
 */
import type { RetryConfig } from '../../contract/proxy-config';

/** How a try failed without a response: no connection, a reset, or (HTTP/2) a stream the server refused before reading it. */
export type Failure = 'connect-failure' | 'reset' | 'refused-stream';

/** Istio's `retryOn` names of gRPC statuses, as the codes they stand for (read from a trailers-only response). */
const GRPC_RETRY_ON: Readonly<Record<string, number>> = {
  cancelled: 1,
  'deadline-exceeded': 4,
  internal: 13,
  'resource-exhausted': 8,
  unavailable: 14,
};

/** A retry policy's `retryOn` as the statuses and failure kinds it covers (compiled once per policy). */
interface RetryRules {
  readonly statuses: ReadonlySet<number>;
  readonly any5xx: boolean;
  readonly connectFailure: boolean;
  readonly reset: boolean;
  readonly refusedStream: boolean;
  /** gRPC statuses retried (Envoy's retry_on grpc names). */
  readonly grpc: ReadonlySet<number>;
}

const compiledRetries = new WeakMap<RetryConfig, RetryRules>();

function retryRules(policy: RetryConfig): RetryRules {
  let rules = compiledRetries.get(policy);
  if (rules) return rules;
  const statuses = new Set<number>();
  let any5xx = false;
  let connectFailure = false;
  let reset = false;
  let refusedStream = false;
  const grpc = new Set<number>();
  for (const on of policy.retryOn) {
    if (on === '5xx') any5xx = reset = connectFailure = refusedStream = true;
    else if (on === 'gateway-error') {
      [502, 503, 504].forEach((s) => statuses.add(s));
      reset = connectFailure = true;
    } else if (on === 'retriable-4xx') statuses.add(409);
    else if (on === 'connect-failure') connectFailure = true;
    else if (on === 'reset') reset = connectFailure = refusedStream = true;
    else if (on === 'refused-stream') refusedStream = true;
    else if (on in GRPC_RETRY_ON) grpc.add(GRPC_RETRY_ON[on]);
    else if (/^\d{3}$/.test(on)) statuses.add(Number(on));
    // retriable-status-codes (the numbers listed beside it) names nothing else; a 503 is not
    // `unavailable`: the gRPC names match a grpc-status only (HTTP/2 tries read it).
  }
  rules = { statuses, any5xx, connectFailure, reset, refusedStream, grpc };
  compiledRetries.set(policy, rules);
  return rules;
}

/** Does `retryOn` cover this outcome (a status, or a connection failure kind)? */
export function shouldRetry(
  policy: RetryConfig | undefined,
  status: number | undefined,
  failure: Failure | undefined,
  grpcStatus?: number,
): boolean {
  if (!policy || policy.attempts <= 0) return false;
  const rules = retryRules(policy);
  if (status !== undefined && ((rules.any5xx && status >= 500) || rules.statuses.has(status))) return true;
  if (grpcStatus !== undefined && rules.grpc.has(grpcStatus)) return true;
  if (failure === 'connect-failure') return rules.connectFailure;
  if (failure === 'reset') return rules.reset;
  if (failure === 'refused-stream') return rules.refusedStream;
  return false;
}

/**
 * Whether an outcome of the `attempts`-th try is tried again: the policy covers it, it has
 * attempts left, and no body went upstream that cannot be sent again whole.
 */
export function mayRetry(
  policy: RetryConfig | undefined,
  attempts: number,
  bodySentPartially: boolean,
  status?: number,
  failure?: Failure,
  grpcStatus?: number,
): boolean {
  return !bodySentPartially && attempts <= (policy?.attempts ?? 0) && shouldRetry(policy, status, failure, grpcStatus);
}

/** A retry goes to an endpoint not tried yet (Envoy's previous_hosts), unless the route turned that off. */
export const avoidsTriedHosts = (policy: RetryConfig | undefined): boolean =>
  !!policy && policy.attempts > 0 && policy.previousHosts !== false;

/**
 * Envoy's back-off before the next try after `attempts` tries: uniformly random up to
 * (2^n - 1) × base for the n-th retry, at most 10 × base (base 25 ms unless `retries.backoff`).
 */
export function backoffMs(policy: RetryConfig | undefined, attempts: number, random: () => number): number {
  const base = policy?.backoffBaseMs || 25;
  return random() * Math.min(base * (2 ** attempts - 1), 10 * base);
}
