/**
 * The one weighted draw of the proxy: route destinations (routing.ts), TCP routes, locality priority
 * levels and localities (upstream/locality.ts). Weights are relative (weight over their sum).
 *
 * Returns the index chosen for a draw uniform in [0, 1), or -1 when every weight is 0. A draw at the
 * very top of the range (float rounding of `draw * total`) lands on the last index that has weight:
 * an item of weight 0 is never chosen.
 */
export function weightedIndex(count: number, weightAt: (i: number) => number, draw: number): number {
  let total = 0;
  for (let i = 0; i < count; i++) total += weightAt(i);
  if (total <= 0) return -1;
  let at = draw * total;
  let last = -1;
  for (let i = 0; i < count; i++) {
    const w = weightAt(i);
    if (at < w) return i;
    at -= w;
    if (w > 0) last = i;
  }
  return last;
}
