/**
 * The retry policy, in one place: which outcomes a route's `retries` covers (Envoy's retry_on),
 * whether this request may be tried again, which endpoints a retry avoids, and the back-off.
 */
import type { RetryConfig } from '../../contract/proxy-config';

export type Failure = 'connect-failure' | 'reset';

/** A retry policy's `retryOn` as the statuses and failure kinds it covers (compiled once per policy). */
interface RetryRules {
  readonly statuses: ReadonlySet<number>;
  readonly any5xx: boolean;
  readonly connectFailure: boolean;
  readonly reset: boolean;
}

const compiledRetries = new WeakMap<RetryConfig, RetryRules>();

function retryRules(policy: RetryConfig): RetryRules {
  let rules = compiledRetries.get(policy);
  if (rules) return rules;
  const statuses = new Set<number>();
  let any5xx = false;
  let connectFailure = false;
  let reset = false;
  for (const on of policy.retryOn) {
    if (on === '5xx') any5xx = reset = connectFailure = true;
    else if (on === 'gateway-error') {
      [502, 503, 504].forEach((s) => statuses.add(s));
      reset = connectFailure = true;
    } else if (on === 'retriable-4xx') statuses.add(409);
    else if (on === 'connect-failure') connectFailure = true;
    else if (on === 'reset') reset = connectFailure = true;
    else if (/^\d{3}$/.test(on)) statuses.add(Number(on));
    // refused-stream (an HTTP/2 stream refused), the gRPC statuses (unavailable, cancelled,
    // deadline-exceeded, internal, resource-exhausted) and retriable-status-codes (the numbers
    // listed beside it) name nothing else an HTTP/1.1 exchange can meet: a 503 is not `unavailable`.
  }
  rules = { statuses, any5xx, connectFailure, reset };
  compiledRetries.set(policy, rules);
  return rules;
}

/** Does `retryOn` cover this outcome (a status, or a connection failure kind)? */
export function shouldRetry(policy: RetryConfig | undefined, status: number | undefined, failure: Failure | undefined): boolean {
  if (!policy || policy.attempts <= 0) return false;
  const rules = retryRules(policy);
  if (status !== undefined && ((rules.any5xx && status >= 500) || rules.statuses.has(status))) return true;
  if (failure === 'connect-failure') return rules.connectFailure;
  if (failure === 'reset') return rules.reset;
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
): boolean {
  return !bodySentPartially && attempts <= (policy?.attempts ?? 0) && shouldRetry(policy, status, failure);
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
