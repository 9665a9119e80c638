/**
 * AuthorizationPolicies in dry run (`istio.io/dry-run: "true"`), as Envoy's RBAC shadow rules run
 * them for Istio: the DENY ones form one shadow engine, the ALLOW ones another, each evaluated on
 * every request (or connection) beside the enforced policies, its outcome reported and never acted
 * on. A request the DENY engine matches is "denied" (by the first matching rule), otherwise
 * "allowed"; one the ALLOW engine matches is "allowed", otherwise "denied". Pure.
 */
import { type Attributes, type AuthzConfig, type AuthzProtocol, prepare, ruleMatches } from './authz';

export interface DryRunResult {
  /** Which shadow engine: the dry-run DENY policies, or the dry-run ALLOW ones. */
  readonly action: 'deny' | 'allow';
  /** What that engine would have done. */
  readonly result: 'allowed' | 'denied';
  /** The matching rule as Istio names it (`ns[foo]-policy[deny-path-headers]-rule[0]`); absent when none matched. */
  readonly policy?: string;
}

/** What the dry-run policies would have done with one request (or connection), and the port they judged. */
export interface DryRunRecord {
  readonly port: number;
  readonly results: readonly DryRunResult[];
}

/**
 * Istio's name of a policy rule, `ns[<ns>]-policy[<name>]-rule[<i>]`, from mast's `<ns>/<name>[<i>]`
 * (what Envoy logs and tags as the shadow effective policy id); a name of another shape is kept.
 */
export function istioPolicyId(rule: string): string {
  const m = /^([^/]+)\/(.+)\[(\d+)\]$/.exec(rule);
  return m ? `ns[${m[1]}]-policy[${m[2]}]-rule[${m[3]}]` : rule;
}

/** The shadow engines' outcomes for one request or connection: none without dry-run policies, else one per engine present. */
export function dryRun(cfg: AuthzConfig | undefined, r: Attributes, protocol: AuthzProtocol): DryRunResult[] | undefined {
  const shadow = cfg?.dryRun;
  if (!shadow) return undefined;
  const p = prepare(shadow, protocol);
  const out: DryRunResult[] = [];
  if (shadow.deny.length) {
    const matched = p.deny.find((rule) => ruleMatches(rule, r));
    out.push(matched ? { action: 'deny', result: 'denied', policy: istioPolicyId(matched.name) } : { action: 'deny', result: 'allowed' });
  }
  if (shadow.allow) {
    const matched = p.allow?.find((rule) => ruleMatches(rule, r));
    out.push(matched ? { action: 'allow', result: 'allowed', policy: istioPolicyId(matched.name) } : { action: 'allow', result: 'denied' });
  }
  return out;
}
