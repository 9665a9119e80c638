/**
 * The `istio.io/dry-run` annotation of an AuthorizationPolicy: "true" has the policy evaluated and
 * its would-be result reported (metrics, log, span tags), never enforced. Its value is read as Go's
 * strconv.ParseBool reads it (Istio's way): `1 t T TRUE true True` are true, `0 f F FALSE false
 * False` false, anything else is false (the policy is enforced) and reported (MAST0137), as is the
 * annotation on a CUSTOM or AUDIT policy, which Istio does not dry-run.
 */
import { finding, type Finding } from './findings';
import type { AuthorizationPolicy } from './resources';

export const DRY_RUN_ANNOTATION = 'istio.io/dry-run';

const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** Whether the policy is in dry run: annotated true, and an ALLOW or DENY policy. */
export function isDryRun(ap: Pick<AuthorizationPolicy, 'metadata' | 'spec'>): boolean {
  const value = ap.metadata.annotations?.[DRY_RUN_ANNOTATION];
  const action = ap.spec.action ?? 'ALLOW';
  return value !== undefined && TRUE.has(value) && (action === 'ALLOW' || action === 'DENY');
}

/** A value that is not a boolean, or the annotation where it has no effect: the policy is enforced as written. */
export function checkDryRunAnnotation(ap: AuthorizationPolicy): Finding[] {
  const value = ap.metadata.annotations?.[DRY_RUN_ANNOTATION];
  if (value === undefined) return [];
  const path = `metadata.annotations["${DRY_RUN_ANNOTATION}"]`;
  if (!TRUE.has(value) && !FALSE.has(value))
    return [finding('MAST0137', ap, path, `"${value}" is not true or false: the policy is enforced, not dry-run`)];
  const action = ap.spec.action ?? 'ALLOW';
  if (TRUE.has(value) && action !== 'ALLOW' && action !== 'DENY')
    return [
      finding(
        'MAST0137',
        ap,
        path,
        `dry run applies to ALLOW and DENY policies only (as in Istio): this ${action} policy is applied as without it`,
      ),
    ];
  return [];
}
