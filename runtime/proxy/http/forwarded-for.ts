/** The original client of a request, from x-forwarded-for (Envoy's xff_num_trusted_hops). */

/**
 * With `hops` trusted proxies in front, the Nth x-forwarded-for entry from the right; with none (or no
 * such header), the peer itself (or the PROXY protocol source): a client cannot name itself.
 */
export function originalClient(xff: string | undefined, hops: number, peer: string): string {
  if (hops <= 0 || !xff) return peer;
  const entries = xff
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  return entries[Math.max(0, entries.length - hops)] ?? peer;
}
