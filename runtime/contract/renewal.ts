/** When to renew a certificate: at half its remaining life, at least 1 s away. */
const MAX_TIMER_MS = 2 ** 31 - 1; // Node fires a longer timer at once (TimeoutOverflowWarning)

export function renewalDelayMs(expiresAt: string, now = Date.now()): number {
  const half = (Date.parse(expiresAt) - now) / 2;
  return Math.min(MAX_TIMER_MS, Math.max(1000, Number.isFinite(half) ? half : 0));
}
