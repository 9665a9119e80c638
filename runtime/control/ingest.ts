/**
 * Validation on ingest: each resource is checked alone; one with errors is rejected and
 * the last good version of it (same kind, namespace, name) stays in the mesh, so one bad
 * edit never takes the rest down. Pure.
 */
import { formatFinding, isError, validate, validateResource, type Finding, type KubeObject } from '../../api';

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

export function ingest(objects: readonly KubeObject[], lastGood: ReadonlyMap<string, KubeObject> = new Map(), options: { defaultIngressGateway?: boolean; analyze?: boolean } = {}): IngestResult {
  const good = new Map<string, KubeObject>();
  const rejected: Finding[] = [];
  for (const obj of objects) {
    const errors = validateResource(obj).filter(isError);
    const key = keyOf(obj);
    if (errors.length === 0) good.set(key, obj);
    else {
      rejected.push(...errors);
      const previous = lastGood.get(key);
      if (previous) good.set(key, previous);
    }
  }
  const accepted = [...good.values()];
  return { objects: accepted, rejected, findings: options.analyze === false ? [] : validate(accepted, options), lastGood: good };
}

export const describeRejections = (r: IngestResult): string[] => r.rejected.map((f) => `rejected: ${formatFinding(f)}`);
