/**
 * The mesh's trust domain and its aliases (MeshConfig `trustDomain`, `trustDomainAliases`): the
 * first part of every workload identity (`<trust domain>/ns/<namespace>/sa/<service account>`).
 * Checked as Istio checks them: dot-separated DNS-1123 labels (lowercase letters, digits and `-`,
 * starting and ending with a letter or digit, at most 63 characters each); a final dot is allowed.
 */
import { finding, type Finding, type ResourceRef } from './findings';

/** Istio's default trust domain, and in AuthorizationPolicy principals a name for the mesh's own trust domain and its aliases. */
export const DEFAULT_TRUST_DOMAIN = 'cluster.local';

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Why `domain` is not a trust domain; undefined when it is one. */
export function trustDomainProblem(domain: string): string | undefined {
  if (domain === '') return 'a trust domain is not empty';
  const labels = domain.split('.');
  for (const [i, label] of labels.entries()) {
    if (i === labels.length - 1 && label === '' && i > 0) return undefined;
    if (!LABEL.test(label))
      return `"${domain}" is not a trust domain: each dot-separated part is a DNS label (lowercase letters, digits, "-"; at most 63 characters)`;
  }
  return undefined;
}

/** The mesh config's trust domain fields (MAST0002 wrong type, MAST0138 not a trust domain). */
export function checkMeshTrustDomain(configMap: ResourceRef, mesh: Record<string, unknown>): Finding[] {
  const out: Finding[] = [];
  const at = 'data.mesh';
  const check = (value: unknown, path: string): void => {
    const problem = typeof value === 'string' ? trustDomainProblem(value) : undefined;
    if (typeof value !== 'string')
      out.push(finding('MAST0002', configMap, path, `a trust domain is a string, not ${JSON.stringify(value)}`));
    else if (problem) out.push(finding('MAST0138', configMap, path, problem));
  };
  if (mesh.trustDomain !== undefined) check(mesh.trustDomain, `${at}.trustDomain`);
  const aliases = mesh.trustDomainAliases;
  if (aliases === undefined) return out;
  if (!Array.isArray(aliases)) {
    out.push(finding('MAST0002', configMap, `${at}.trustDomainAliases`, 'trustDomainAliases is a list of trust domains'));
    return out;
  }
  aliases.forEach((a, i) => check(a, `${at}.trustDomainAliases[${i}]`));
  return out;
}
