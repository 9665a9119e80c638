/**
 * Istio matches with RE2. JavaScript's engine accepts a superset, so a pattern is
 * checked twice: it must compile, and it must not use what RE2 lacks
 * (look-around and back-references).
 */
const NOT_RE2: Array<[RegExp, string]> = [
  [/\(\?[=!]/, 'look-ahead is not supported by RE2'],
  [/\(\?<[=!]/, 'look-behind is not supported by RE2'],
  [/\\[1-9]/, 'back-references are not supported by RE2'],
  [/\\k</, 'named back-references are not supported by RE2'],
];

/**
 * An RE2 pattern in JavaScript's terms: named groups `(?P<n>` → `(?<n>`, and leading flags such
 * as `(?i)` → RegExp flags (`U`, ungreedy, has no JavaScript form and is dropped).
 */
export function re2ToJs(pattern: string): { source: string; flags: string } {
  const lead = /^\(\?([imsU]+)\)/.exec(pattern);
  const flags = [...new Set((lead?.[1] ?? '').replace(/U/g, ''))].join('');
  return { source: pattern.slice(lead?.[0].length ?? 0).replace(/\(\?P</g, '(?<'), flags };
}

/** The reason a pattern is not valid RE2, or undefined when it is. */
export function checkRe2(pattern: string): string | undefined {
  const js = re2ToJs(pattern);
  try {
    new RegExp(js.source, js.flags);
  } catch (err) {
    return (err as Error).message;
  }
  for (const [re, reason] of NOT_RE2) if (re.test(pattern)) return reason;
  return undefined;
}
