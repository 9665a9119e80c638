/** Multi-document YAML loading that remembers file and line for every field. */
import type { Document, Node } from 'yaml';
import { finding, type Finding } from './findings';
import type { KubeObject } from './resources';
import { isPlainObject } from './shape';
import { parsePath, setSource } from './source';
import { yamlLibrary } from './yaml';

export interface LoadResult {
  readonly objects: KubeObject[];
  /** YAML syntax errors and documents that are not Kubernetes objects. */
  readonly findings: Finding[];
}

/**
 * Kubernetes stores no object over 1.5 MiB, and the YAML text of one is at most about twice its
 * JSON (indentation, comments). A longer document is refused before it is parsed: parsing holds
 * tens of times the text in memory, and a control plane reading a watched directory must not be
 * made to hold gigabytes by one file.
 */
export const MAX_DOCUMENT_BYTES = 3 * 1024 * 1024;

/** YAML documents start at a `---` line; the spec forbids that marker at column 0 inside any scalar. */
const DOCUMENT_START = /^---(?=[ \t\r\n]|$)/gm;

/** The text cut at its document markers, each part with the line it starts on. */
function documentTexts(text: string): Array<{ text: string; line: number }> {
  if (text.length <= MAX_DOCUMENT_BYTES) return [{ text, line: 1 }];
  const starts = [0, ...[...text.matchAll(DOCUMENT_START)].map((m) => m.index!).filter((i) => i > 0), text.length];
  const parts: Array<{ text: string; line: number }> = [];
  let line = 1;
  for (let k = 0; k + 1 < starts.length; k++) {
    const part = text.slice(starts[k], starts[k + 1]);
    parts.push({ text: part, line });
    for (let i = part.indexOf('\n'); i >= 0; i = part.indexOf('\n', i + 1)) line++;
  }
  return parts;
}

export function loadYaml(text: string, file = '<input>'): LoadResult {
  const objects: KubeObject[] = [];
  const findings: Finding[] = [];
  for (const part of documentTexts(text)) {
    const bytes = Buffer.byteLength(part.text);
    if (bytes > MAX_DOCUMENT_BYTES) {
      const message = `a YAML document of ${bytes.toLocaleString('en-US')} bytes was not read: at most ${MAX_DOCUMENT_BYTES.toLocaleString('en-US')} (a resource is stored in at most 1.5 MiB)`;
      findings.push({ ...finding('MAST0010', { kind: 'YAML' }, '', message), name: file, file, line: part.line });
      continue;
    }
    loadDocuments(part.text, file, part.line - 1, objects, findings);
  }
  return { objects, findings };
}

/** The documents of `text` (which starts on line `offset + 1` of the file) into `objects` and `findings`. */
function loadDocuments(text: string, file: string, offset: number, objects: KubeObject[], findings: Finding[]): void {
  const { LineCounter, parseAllDocuments } = yamlLibrary();
  const counter = new LineCounter();
  const lines = { linePos: (at: number) => ({ line: counter.linePos(at).line + offset }) };
  for (const doc of parseAllDocuments(text, { lineCounter: counter, uniqueKeys: true })) {
    const line = doc.contents ? lines.linePos(doc.contents.range[0]).line : 1;
    const bad = (message: string, at = line) =>
      findings.push({ ...finding('MAST0008', { kind: 'YAML' }, '', message), name: file, file, line: at });
    if (doc.errors.length) {
      for (const e of doc.errors) bad(e.message.split('\n')[0], e.linePos ? e.linePos[0].line + offset : line);
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
}

function lineAt(doc: Document, lines: { linePos(at: number): { line: number } }, path: Array<string | number>): number | undefined {
  const node = path.length ? (doc.getIn(path, true) as Node | undefined) : (doc.contents as Node | null);
  if (!node?.range) return undefined;
  const { isMap, isSeq } = yamlLibrary();
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
