/**
 * DestinationRule `tls.credentialName` (TLS origination with a client certificate from a Secret):
 * Istio hands the Secret only to proxies of its namespace. Without a workloadSelector the rule's
 * credentialName is applied at gateways (sidecars keep the files); with one, at the workloads it
 * selects, which are in the rule's own namespace.
 */
import { clientTlsSettings } from '../destination-rule';
import { finding, type Finding } from '../findings';
import { namespaceOf } from '../hosts';
import { DEFAULT_GATEWAY_SECRET_NAMESPACES, DEFAULT_GATEWAY_SOURCE, type Registry } from '../registry';
import type { DestinationRule, Gateway } from '../resources';
import { isToken } from '../tokens';

/** The namespaces the Secret is read from: the gateways' (those the Gateways select), or the rule's own with a workloadSelector. */
function readersOf(dr: DestinationRule, gateways: readonly Gateway[], registry: Registry): { where: string[]; who: string } {
  if (dr.spec.workloadSelector) return { where: [namespaceOf(dr)], who: 'the workloads it selects run' };
  const where = new Set(
    gateways
      .flatMap((gw) => registry.select(undefined, gw.spec.selector))
      .flatMap((p) => (p.source === DEFAULT_GATEWAY_SOURCE ? DEFAULT_GATEWAY_SECRET_NAMESPACES : [p.namespace])),
  );
  return { where: [...where], who: 'the gateways run' };
}

/**
 * MAST0170: a credentialName whose Secret is not where the proxies applying it run (checked when the
 * input has Secrets); MAST0171: without a workloadSelector, sidecars do not apply it.
 */
export function checkOriginationCredentials(dr: DestinationRule, gateways: readonly Gateway[], registry: Registry): Finding[] {
  const named = clientTlsSettings(dr.spec).filter(
    ({ tls }) => tls.credentialName && (tls.mode === 'SIMPLE' || tls.mode === 'MUTUAL') && !isToken(tls.credentialName),
  );
  if (named.length === 0) return [];
  const out: Finding[] = [];
  if (!dr.spec.workloadSelector)
    out.push(
      finding(
        'MAST0171',
        dr,
        `${named[0].at}.credentialName`,
        'credentialName applies at gateways; sidecars use the files (clientCertificate, privateKey, caCertificates) unless the rule has a workloadSelector',
      ),
    );
  const { where, who } = readersOf(dr, gateways, registry);
  if (registry.secrets.size === 0 || where.length === 0) return out;
  for (const { at, tls } of named) {
    const name = tls.credentialName!;
    if (where.some((ns) => registry.secrets.has(`${ns}/${name}`))) continue;
    const elsewhere = [...registry.secrets].filter((key) => key.endsWith(`/${name}`)).map((key) => key.slice(0, key.indexOf('/')));
    const message = elsewhere.length
      ? `Secret "${name}" is in namespace ${elsewhere.join(', ')}, not in ${where.join(', ')} where ${who}: Istio gives a credentialName only to proxies of its namespace, so TLS origination to ${dr.spec.host} fails`
      : `Secret "${name}" not found in ${where.join(', ')} where ${who}: TLS origination to ${dr.spec.host} fails`;
    out.push(finding('MAST0170', dr, `${at}.credentialName`, message));
  }
  return out;
}
