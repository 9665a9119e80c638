/**
 * Regular expressions from config, as Istio runs them: RE2's syntax and semantics, in time linear
 * in the input. One engine (re2js, a pure-JavaScript port of RE2; the measured choice is in
 * docs/regex.md) serves validation, route matching and `uriRegexRewrite`, in the proxy and in
 * mastd alike, so a pattern `mast validate` accepts is by construction one the proxy compiles:
 * there is no translation to JavaScript's backtracking RegExp, where a pattern like `(a+)+$`
 * takes exponential time.
 */
import type * as Re2js from 're2js';

/**
 * Loaded on first use: the engine holds a few MB (its code and Unicode tables) for as long as the
 * process runs, and a proxy whose config has no regex never pays for it.
 */
const engine = (): typeof Re2js => require('re2js') as typeof Re2js;

/**
 * The largest compiled program accepted: Istio's `re2.max_program_size.error_level` (Envoy refuses
 * bigger ones at config load). A match costs up to program size × input length.
 */
export const MAX_PROGRAM_SIZE = 32768;

/** RE2 refuses these with a terse message; say what they are. */
const HINTS: Array<[RegExp, string]> = [
  [/\(\?[=!]/, 'look-ahead is not supported by RE2'],
  [/\(\?<[=!]/, 'look-behind is not supported by RE2'],
  [/\\[1-9]/, 'back-references are not supported by RE2'],
  [/\\k</, 'named back-references are not supported by RE2'],
];

/** A pattern RE2 does not take (or that exceeds the program size), with the reason. */
export class Re2SyntaxError extends Error {
  readonly code = 'MAST_REGEX_INVALID';
}

/** A compiled pattern (leftmost-first, as RE2). */
export interface Re2 {
  /** Whether the whole value matches (Envoy's safe_regex match is a full match). */
  matchesWhole(value: string): boolean;
  /**
   * Every match replaced, as Envoy's `regex_rewrite` (RE2::GlobalReplace): `\0`–`\9` are the
   * groups (empty when a group did not take part), `\\` a backslash; an empty match right where
   * the previous match ended is skipped.
   */
  replaceAll(value: string, rewrite: string): string;
}

/** Compiles an RE2 pattern (a leading `(?i)` and the like are RE2's own syntax); throws Re2SyntaxError. */
export function compileRe2(pattern: string, options: { ignoreCase?: boolean } = {}): Re2 {
  const { RE2JS } = engine();
  let re: Re2js.RE2JS;
  try {
    re = RE2JS.compile(pattern, options.ignoreCase ? RE2JS.CASE_INSENSITIVE : 0);
  } catch (err) {
    const hint = HINTS.find(([h]) => h.test(pattern));
    throw new Re2SyntaxError(hint ? hint[1] : (err as Error).message);
  }
  const size = re.programSize();
  if (size > MAX_PROGRAM_SIZE)
    throw new Re2SyntaxError(`the compiled program has ${size} instructions, more than ${MAX_PROGRAM_SIZE} (Istio's limit)`);
  // A value that does not start with the program's literal prefix cannot match whole: checked first,
  // it spares the engine's set-up (most requests reaching a route table's regex rule are not its own).
  const prefix = literalPrefix(re);
  const matchesWhole = prefix ? (value: string) => value.startsWith(prefix) && re.testExact(value) : (value: string) => re.testExact(value);
  return { matchesWhole, replaceAll: (value, rewrite) => replaceAll(re, value, rewrite) };
}

/**
 * The runes every match starts with, as RE2 finds them (Prog::prefix: the program's first literal
 * runes up to the first choice, none case-folded), or '' where re2js does not say.
 */
function literalPrefix(re: Re2js.RE2JS): string {
  const prefix = (re as unknown as { re2Input?: { prefix?: unknown } }).re2Input?.prefix;
  return typeof prefix === 'string' ? prefix : '';
}

/** The reason a pattern is not valid RE2, or undefined when it is. */
export function checkRe2(pattern: string): string | undefined {
  try {
    compileRe2(pattern);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * The reason a `uriRegexRewrite.rewrite` is not valid for its pattern (RE2's Rewrite check: a
 * backslash takes a digit or a backslash, and `\N` names an existing group), or undefined.
 */
export function checkRe2Rewrite(pattern: string, rewrite: string): string | undefined {
  let groups: number;
  try {
    groups = engine().RE2JS.compile(pattern).groupCount();
  } catch {
    return undefined; // the pattern's own finding says why
  }
  for (let i = 0; i < rewrite.length; i++) {
    if (rewrite[i] !== '\\') continue;
    const c = rewrite[++i];
    if (c === '\\') continue;
    if (c === undefined || c < '0' || c > '9')
      return 'a backslash in the rewrite must be followed by a digit (a group) or another backslash';
    if (Number(c) > groups) return `\\${c} names a group the pattern does not have (it has ${groups})`;
  }
  return undefined;
}

function replaceAll(re: Re2js.RE2JS, value: string, rewrite: string): string {
  const m = re.matcher(value);
  let out = '';
  let last = 0;
  let lastMatchEnd = -1;
  while (m.find()) {
    const start = m.start();
    const end = m.end();
    if (start === end && start === lastMatchEnd) continue;
    out += value.slice(last, start) + expand(rewrite, (n) => (n <= m.groupCount() ? (m.group(n) ?? '') : ''));
    last = end;
    lastMatchEnd = end;
  }
  return out + value.slice(last);
}

/** A rewrite string with `\N` replaced by group N and `\\` by a backslash; anything else literal. */
function expand(rewrite: string, group: (n: number) => string): string {
  return rewrite.replace(/\\([0-9\\])/g, (_, c: string) => (c === '\\' ? '\\' : group(Number(c))));
}
