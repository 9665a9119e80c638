/**
 * How a proxy reports what its dry-run AuthorizationPolicies would have done (authz-dry-run.ts),
 * in the three places Istio's task looks: a counter per engine and result, named as Istio's
 * Prometheus scrape names Envoy's RBAC shadow stats
 * (`envoy_http_inbound_0_0_0_0_80_rbac{authz_dry_run_action="deny",authz_dry_run_result="denied"}`);
 * the `rbac` logger's debug line (`shadow denied, matched policy ns[foo]-policy[x]-rule[0]`); and
 * the span tags `istio.authorization.dry_run.<action>_policy.name` / `.result`. Pure.
 */
import type { DryRunResult } from '../contract/authz-dry-run';

/**
 * The counter (name and labels) of one outcome: `http` or `tcp`, the listener's stat prefix as
 * Istio names it (`inbound_0.0.0.0_<port>` on a sidecar's inbound, `0.0.0.0_<port>` at a gateway),
 * dots and the like as underscores as the scrape writes them.
 */
export function dryRunCounter(protocol: 'http' | 'tcp', inbound: boolean, port: number, r: DryRunResult): string {
  const prefix = `${inbound ? 'inbound_' : ''}0_0_0_0_${port}`;
  return `envoy_${protocol}_${prefix}_rbac{authz_dry_run_action="${r.action}",authz_dry_run_result="${r.result}"}`;
}

/** The `rbac` debug log line of one outcome, as Envoy's RBAC filter writes it. */
export const dryRunLogLine = (r: DryRunResult): string => `shadow ${r.result}, matched policy ${r.policy ?? 'none'}`;

/** The span tags of the outcomes (Istio's names for Envoy's shadow effective policy id and engine result). */
export function dryRunSpanTags(results: readonly DryRunResult[]): Array<[string, string]> {
  const tags: Array<[string, string]> = [];
  for (const r of results) {
    const at = `istio.authorization.dry_run.${r.action}_policy`;
    if (r.policy) tags.push([`${at}.name`, r.policy]);
    tags.push([`${at}.result`, r.result]);
  }
  return tags;
}
