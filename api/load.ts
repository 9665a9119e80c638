/** Multi-document YAML loading that remembers file and line for every field. */
import { isMap, isSeq, LineCounter, parseAllDocuments, type Document, type Node } from 'yaml';
import { finding, type Finding } from './findings';
import type { KubeObject } from './resources';
import { isPlainObject } from './shape';
import { parsePath, setSource } from './source';

export interface LoadResult {
  readonly objects: KubeObject[];
  /** YAML syntax errors and documents that are not Kubernetes objects. */
  readonly findings: Finding[];
}

export function loadYaml(text: string, file = '<input>'): LoadResult {
  const lines = new LineCounter();
  const objects: KubeObject[] = [];
  const findings: Finding[] = [];
  for (const doc of parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true })) {
    const line = doc.contents ? lines.linePos(doc.contents.range[0]).line : 1;
    const bad = (message: string, at = line) => findings.push({ ...finding('MAST0008', { kind: 'YAML' }, '', message), name: file, file, line: at });
    if (doc.errors.length) {
      for (const e of doc.errors) bad(e.message.split('\n')[0], e.linePos?.[0].line ?? line);
      continue;
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    if (isPlainObject(value) && value.kind === 'List' && Array.isArray(value.items)) {
      value.items.forEach((item, i) => accept(item, ['items', i]));
      continue;
    }
    accept(value, []);

    function accept(item: unknown, prefix: Array<string | number>): void {
      if (!isPlainObject(item) || typeof item.kind !== 'string' || typeof item.apiVersion !== 'string' || !isPlainObject(item.metadata)) {
        bad('document is not a Kubernetes object (needs apiVersion, kind and metadata)', lineAt(doc, lines, prefix) ?? line);
        return;
      }
      const obj = item as KubeObject;
      const lineOf = (path: string): number => {
        const parts = [...prefix, ...parsePath(path)];
        for (let n = parts.length; n >= 0; n--) {
          const at = lineAt(doc, lines, parts.slice(0, n));
          if (at !== undefined) return at;
        }
        return line;
      };
      setSource(obj, { file, line: lineAt(doc, lines, prefix) ?? line, lineOf });
      objects.push(obj);
    }
  }
  return { objects, findings };
}

function lineAt(doc: Document, lines: LineCounter, path: Array<string | number>): number | undefined {
  const node = path.length ? (doc.getIn(path, true) as Node | undefined) : (doc.contents as Node | null);
  if (!node || !node.range) return undefined;
  // For a key's value, report the line of the key rather than of a nested block's first line.
  if ((isMap(node) || isSeq(node)) && path.length) {
    const parent = doc.getIn(path.slice(0, -1), true);
    if (isMap(parent)) {
      const pair = parent.items.find((p) => (p.key as { value?: unknown })?.value === path[path.length - 1]);
      const key = pair?.key as Node | undefined;
      if (key?.range) return lines.linePos(key.range[0]).line;
    }
  }
  return lines.linePos(node.range[0]).line;
}
