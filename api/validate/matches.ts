/**
 * Rules that can never match (IST0130) and matches already covered by an earlier
 * one (IST0131): an exact duplicate (names aside), or a URI prefix inside an
 * earlier prefix whose other conditions are a subset of this match's.
 */
import { finding, type Finding } from '../findings';
import type { VirtualService } from '../resources';

type Match = Record<string, unknown> & { name?: string; uri?: { prefix?: string } };
type Rule = { name?: string; match?: Match[] };

/** The match without its name, keys sorted: equal strings mean equal conditions. */
const canonical = (m: Match): string => JSON.stringify(sortDeep({ ...m, name: undefined }));
function sortDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortDeep);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== undefined)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, x]) => [k, sortDeep(x)]),
    );
  return v;
}

/** Does the earlier match `p` catch every request `m` would? (prefix containment, other conditions equal) */
function covers(p: Match, m: Match): boolean {
  const pp = p.uri?.prefix;
  const mp = m.uri?.prefix;
  if (pp === undefined || mp === undefined || !mp.startsWith(pp) || Object.keys(p.uri!).length !== 1 || Object.keys(m.uri!).length !== 1)
    return false;
  return Object.entries(p).every(([k, v]) => k === 'uri' || k === 'name' || JSON.stringify(sortDeep(v)) === JSON.stringify(sortDeep(m[k])));
}

export function checkMatches(vs: VirtualService): Finding[] {
  const out: Finding[] = [];
  for (const section of ['http', 'tcp', 'tls'] as const) {
    const rules = (vs.spec[section] ?? []) as Rule[];
    const seen = new Map<string, number>();
    const earlier: Array<{ match: Match; rule: number }> = [];
    let catchAll = -1;
    rules.forEach((rule, r) => {
      const at = `spec.${section}[${r}]`;
      const label = rule.name ? `"${rule.name}"` : `#${r}`;
      if (!rule.match?.length) {
        if (catchAll >= 0)
          out.push(
            finding(
              'MAST0217',
              vs,
              at,
              `rule ${label} can never match: rule #${catchAll} before it has no match conditions and takes everything`,
            ),
          );
        catchAll = r;
        return;
      }
      let duplicates = 0;
      rule.match.forEach((m, i) => {
        const k = canonical(m);
        const dup = seen.get(k);
        if (dup !== undefined) {
          duplicates++;
          out.push(finding('MAST0218', vs, `${at}.match[${i}]`, `this match repeats one of rule #${dup}; it never takes effect here`));
        } else {
          const cover = section === 'http' ? earlier.find((e) => covers(e.match, m)) : undefined;
          if (cover)
            out.push(
              finding(
                'MAST0218',
                vs,
                `${at}.match[${i}]`,
                `prefix "${m.uri?.prefix}" is already caught by prefix "${cover.match.uri?.prefix}" of rule #${cover.rule}`,
              ),
            );
          seen.set(k, r);
        }
        earlier.push({ match: m, rule: r });
      });
      if (duplicates === rule.match.length)
        out.push(finding('MAST0217', vs, at, `rule ${label} can never match: every match repeats an earlier rule's`));
    });
  }
  return out;
}
