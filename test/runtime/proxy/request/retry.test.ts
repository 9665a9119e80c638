/** Which outcomes each `retryOn` kind retries (Envoy's x-envoy-retry-on semantics), as a pure table. */
import { shouldRetry } from '../../../../runtime/proxy/request/retry';
import { DEFAULT_RETRY } from '../../../../runtime/contract/proxy-config';

const policy = (...retryOn: string[]) => ({ attempts: 2, retryOn });
type Outcome = [status: number | undefined, failure: 'connect-failure' | 'reset' | undefined];
const OUTCOMES: Record<string, Outcome> = {
  '200': [200, undefined],
  '409': [409, undefined],
  '500': [500, undefined],
  '502': [502, undefined],
  '503': [503, undefined],
  '504': [504, undefined],
  'connect failure': [undefined, 'connect-failure'],
  reset: [undefined, 'reset'],
};

describe('retryOn', () => {
  test.each([
    ['5xx', ['500', '502', '503', '504', 'connect failure', 'reset']],
    ['gateway-error', ['502', '503', '504', 'connect failure', 'reset']],
    ['unavailable', []],
    ['503', ['503']],
    ['retriable-4xx', ['409']],
    ['connect-failure', ['connect failure']],
    ['refused-stream', []],
    ['retriable-status-codes', []],
    ['reset', ['connect failure', 'reset']],
    ['cancelled', []],
    ['409', ['409']],
  ])('%s retries %j and nothing else', (on, retried) => {
    const got = Object.entries(OUTCOMES)
      .filter(([, [status, failure]]) => shouldRetry(policy(on), status, failure))
      .map(([name]) => name);
    expect(got).toEqual(retried);
  });

  test("Istio's default policy retries connect failures only: not a 503 response, not resets or other statuses", () => {
    const istio = DEFAULT_RETRY;
    expect(shouldRetry(istio, 503, undefined)).toBe(false);
    expect(shouldRetry(istio, undefined, 'connect-failure')).toBe(true);
    expect(shouldRetry(istio, 502, undefined)).toBe(false);
    expect(shouldRetry(istio, undefined, 'reset')).toBe(false);
  });

  test('no attempts, no policy: never', () => {
    expect(shouldRetry({ attempts: 0, retryOn: ['5xx'] }, 503, undefined)).toBe(false);
    expect(shouldRetry(undefined, 503, undefined)).toBe(false);
  });

  test('a per-try timeout counts as a 504 and a reset', () => {
    expect(shouldRetry(policy('gateway-error'), 504, 'reset')).toBe(true);
    expect(shouldRetry(policy('reset'), 504, 'reset')).toBe(true);
    expect(shouldRetry(policy('unavailable'), 504, 'reset')).toBe(false);
  });
});
