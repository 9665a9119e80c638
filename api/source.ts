/** Where a loaded object came from, kept beside it (not in it) so objects stay plain data. */
export interface Source {
  readonly file: string;
  /** Line of the document's start. */
  readonly line: number;
  /** Line of a field path such as `spec.http[0].route`; the nearest existing parent's line otherwise. */
  lineOf(path: string): number;
}

const sources = new WeakMap<object, Source>();

export function setSource(obj: object, source: Source): void {
  sources.set(obj, source);
}

export function sourceOf(obj: object): Source | undefined {
  return sources.get(obj);
}

/** `spec.http[0]["a.b"].x` → ['spec', 'http', 0, 'a.b', 'x']. */
export function parsePath(path: string): Array<string | number> {
  const out: Array<string | number> = [];
  const re = /([^.[\]]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]/g;
  for (const m of path.matchAll(re)) out.push(m[1] !== undefined ? m[1] : m[2] !== undefined ? Number(m[2]) : JSON.parse(`"${m[3]}"`));
  return out;
}
