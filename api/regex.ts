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

/** The reason a pattern is not valid RE2, or undefined when it is. */
export function checkRe2(pattern: string): string | undefined {
  // RE2-only syntax that JavaScript spells differently: named groups and leading flags.
  const js = pattern.replace(/\(\?P</g, '(?<').replace(/^\(\?[imsU]+\)/, '');
  try {
    new RegExp(js);
  } catch (err) {
    return (err as Error).message;
  }
  for (const [re, reason] of NOT_RE2) if (re.test(pattern)) return reason;
  return undefined;
}
