/**
 * Validation on ingest: each resource is checked alone; one with errors is rejected and
 * the last good version of it (same kind, namespace, name) stays in the mesh, so one bad
 * edit never takes the rest down. Pure.
 */
import { formatFinding, isError, sourceOf, validate, validateResource, type Finding, type KubeObject } from '../../api';

export const keyOf = (o: KubeObject): string => `${o.kind}/${o.metadata?.namespace ?? 'default'}/${o.metadata?.name}`;

export interface IngestResult {
  /** What the mesh runs with: accepted objects plus last good versions of rejected ones. */
  readonly objects: KubeObject[];
  /** Per-resource errors that caused a rejection. */
  readonly rejected: Finding[];
  /** Everything validate() reports on the accepted set (warnings included), as `/debug/analyze` shows; empty with `analyze: false`. */
  readonly findings: Finding[];
  /** The last good version of every resource, for the next ingest. */
  readonly lastGood: ReadonlyMap<string, KubeObject>;
}

/**
 * Per-resource results by content, from one ingest to the next: on a large mesh an edit changes a
 * few resources, and only those are validated again.
 */
export type IngestMemo = Map<string, { readonly errors: Finding[]; readonly object: KubeObject }>;

export function ingest(
  objects: readonly KubeObject[],
  lastGood: ReadonlyMap<string, KubeObject> = new Map(),
  options: { defaultIngressGateway?: boolean; analyze?: boolean; memo?: IngestMemo; seal?: (o: KubeObject) => KubeObject } = {},
): IngestResult {
  const good = new Map<string, KubeObject>();
  const rejected: Finding[] = [];
  const memo: IngestMemo = new Map();
  for (const received of objects) {
    // Where it was read from is part of the key: findings name the file and line, `mast local` resolves paths against it.
    const source = sourceOf(received);
    const content = options.memo && `${source ? `${source.file}:${source.line}` : ''}\n${JSON.stringify(received)}`;
    let known = content === undefined ? undefined : options.memo!.get(content);
    if (!known) known = { errors: validateResource(received).filter(isError), object: options.seal ? options.seal(received) : received };
    if (content !== undefined) memo.set(content, known);
    const { errors, object: obj } = known;
    const key = keyOf(obj);
    if (errors.length === 0) good.set(key, obj);
    else {
      rejected.push(...errors);
      const previous = lastGood.get(key);
      if (previous) good.set(key, previous);
    }
  }
  if (options.memo) {
    options.memo.clear();
    for (const [k, v] of memo) options.memo.set(k, v);
  }
  const accepted = [...good.values()];
  return { objects: accepted, rejected, findings: options.analyze === false ? [] : validate(accepted, options), lastGood: good };
}

export const describeRejections = (r: IngestResult): string[] => r.rejected.map((f) => `rejected: ${formatFinding(f)}`);
