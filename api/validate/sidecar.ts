/**
 * The Sidecar's rules, as Istio's webhook (local to one resource: something to configure, egress
 * hosts of the form `namespace/host`, one catch-all egress listener and last, unique ports, a
 * loopback defaultEndpoint, egressProxy only with ALLOW_ANY) and its sidecar analyzer (across the
 * set: one Sidecar without selector per namespace, one Sidecar per workload, a selector that
 * selects) check it.
 */
import { finding, type Finding } from '../findings';
import { isValidHost, namespaceOf } from '../hosts';
import type { Registry, Workload } from '../registry';
import { mtlsModeAt, peerAuthenticationChain } from '../peer-authentication';
import type { PeerAuthentication, Sidecar } from '../resources';
import type { SidecarIngressListener } from '../sidecar';

/** Why an egress host is not Istio's `namespace/dnsName`, or undefined. */
function egressHostProblem(text: string): string | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return 'not of the form namespace/host (e.g. "./*", "istio-system/*", "*/reviews.default.svc.cluster.local")';
  const ns = text.slice(0, slash);
  const host = text.slice(slash + 1);
  if (!ns || !host) return 'empty namespace or host';
  if (ns !== '*' && ns !== '.' && ns !== '~' && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(ns)) return `"${ns}" is not a namespace`;
  if (host !== '*' && !host.includes('.')) return 'short names are not allowed: give the FQDN';
  if (!isValidHost(host)) return host.includes('*') ? 'partial wildcards are not allowed (only "*" or a "*." prefix)' : 'not a DNS name';
  return undefined;
}

/** `127.0.0.1:<port>`, `0.0.0.0:<port>`, `[::1]:<port>`, `[::]:<port>`, `:<port>` or `unix://path`. */
function defaultEndpointProblem(text: string): string | undefined {
  if (text.startsWith('unix://')) return text.length > 'unix://'.length ? undefined : 'an empty socket path';
  const m = /^(127\.0\.0\.1|0\.0\.0\.0|\[::1\]|\[::\]|):(\d+)$/.exec(text);
  if (!m) return 'must be 127.0.0.1:<port>, 0.0.0.0:<port>, [::1]:<port>, [::]:<port> or unix://path';
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? undefined : `port ${m[2]} is outside 1-65535`;
}

/**
 * An ingress listener's `tls`, as Istio's webhook reads it: only on an HTTPS or TLS port; SIMPLE or
 * MUTUAL with the files on the proxy's disk (Istio takes no credentialName on a sidecar); MUTUAL
 * with the client CAs.
 */
function ingressTlsProblems(sc: Sidecar, l: SidecarIngressListener, at: string): Finding[] {
  const tls = l.tls;
  if (!tls) return [];
  const out: Finding[] = [];
  const protocol = l.port.protocol?.toUpperCase();
  if (protocol !== 'HTTPS' && protocol !== 'TLS')
    out.push(
      finding(
        'MAST0175',
        sc,
        `${at}.tls`,
        `port ${l.port.number} has protocol ${l.port.protocol ?? '(none)'}: TLS settings need an HTTPS or TLS port`,
      ),
    );
  if (tls.mode === 'ISTIO_MUTUAL' || tls.mode === 'AUTO_PASSTHROUGH')
    out.push(
      finding(
        'MAST0176',
        sc,
        `${at}.tls.mode`,
        `mode ${tls.mode}: a sidecar's ingress TLS is SIMPLE or MUTUAL (mesh mTLS comes from PeerAuthentication)`,
      ),
    );
  const rejected: Array<[keyof typeof tls, string]> = [
    ['credentialName', 'credentialName: a sidecar reads its certificate from files (serverCertificate, privateKey)'],
    ['credentialNames', 'credentialNames: a sidecar reads its certificate from files (serverCertificate, privateKey)'],
    ['subjectAltNames', 'subjectAltNames: not supported in a sidecar ingress TLS'],
    ['httpsRedirect', 'httpsRedirect: not supported in a sidecar ingress TLS'],
  ];
  for (const [field, why] of rejected)
    if (tls[field] !== undefined && tls[field] !== false) out.push(finding('MAST0176', sc, `${at}.tls.${field}`, why));
  if (tls.mode === 'SIMPLE' || tls.mode === 'MUTUAL' || tls.mode === 'OPTIONAL_MUTUAL') {
    if (!tls.serverCertificate)
      out.push(finding('MAST0177', sc, `${at}.tls.serverCertificate`, `${tls.mode} TLS requires a server certificate`));
    if (!tls.privateKey) out.push(finding('MAST0177', sc, `${at}.tls.privateKey`, `${tls.mode} TLS requires a private key`));
    if (tls.mode !== 'SIMPLE' && !tls.caCertificates)
      out.push(finding('MAST0177', sc, `${at}.tls.caCertificates`, `${tls.mode} TLS requires the client CA bundle`));
  }
  return out;
}

export function checkSidecar(sc: Sidecar): Finding[] {
  const out: Finding[] = [];
  const { egress, ingress, outboundTrafficPolicy, inboundConnectionPool } = sc.spec;
  if (!egress?.length && !ingress?.length && !outboundTrafficPolicy && !inboundConnectionPool)
    out.push(
      finding(
        'MAST0125',
        sc,
        'spec',
        'the Sidecar configures nothing (no egress, ingress, outboundTrafficPolicy or inboundConnectionPool)',
      ),
    );
  const ingressPorts = new Set<number>();
  ingress?.forEach((l, i) => {
    if (ingressPorts.has(l.port.number))
      out.push(finding('MAST0112', sc, `spec.ingress[${i}].port.number`, `port ${l.port.number} has two ingress listeners`));
    ingressPorts.add(l.port.number);
    const problem = l.defaultEndpoint !== undefined ? defaultEndpointProblem(l.defaultEndpoint) : undefined;
    if (problem) out.push(finding('MAST0128', sc, `spec.ingress[${i}].defaultEndpoint`, `"${l.defaultEndpoint}": ${problem}`));
    if (l.port.targetPort !== undefined)
      out.push(
        finding('MAST0178', sc, `spec.ingress[${i}].port.targetPort`, `targetPort ${l.port.targetPort}: it has no effect on a Sidecar`),
      );
    out.push(...ingressTlsProblems(sc, l, `spec.ingress[${i}]`));
  });
  const egressPorts = new Set<number>();
  let catchAll = false;
  egress?.forEach((l, i) => {
    const at = `spec.egress[${i}]`;
    if (!l.port) {
      if (catchAll) out.push(finding('MAST0127', sc, at, 'a second egress listener without port: only one may catch the other ports'));
      else if (i !== egress.length - 1) out.push(finding('MAST0127', sc, at, 'the egress listener without port must be the last one'));
      catchAll = true;
    } else if (l.port.number !== 0) {
      if (l.port.targetPort !== undefined)
        out.push(finding('MAST0178', sc, `${at}.port.targetPort`, `targetPort ${l.port.targetPort}: it has no effect on a Sidecar`));
      if (egressPorts.has(l.port.number))
        out.push(finding('MAST0112', sc, `${at}.port.number`, `port ${l.port.number} has two egress listeners`));
      egressPorts.add(l.port.number);
    }
    if (l.hosts?.length === 0) out.push(finding('MAST0126', sc, `${at}.hosts`, 'an egress listener imports at least one host'));
    l.hosts?.forEach((h, j) => {
      const problem = egressHostProblem(h);
      if (problem) out.push(finding('MAST0126', sc, `${at}.hosts[${j}]`, `"${h}": ${problem}`));
    });
  });
  if (outboundTrafficPolicy?.egressProxy && outboundTrafficPolicy.mode !== 'ALLOW_ANY')
    out.push(
      finding(
        'MAST0129',
        sc,
        'spec.outboundTrafficPolicy.egressProxy',
        'egressProxy is only for mode ALLOW_ANY (it is where unknown hosts go)',
      ),
    );
  return out;
}

const selectorOf = (sc: Sidecar) => {
  const labels = sc.spec.workloadSelector?.labels;
  return labels && Object.keys(labels).length ? labels : undefined;
};
const names = (list: readonly Sidecar[]) => list.map((s) => s.metadata.name).join(', ');

/**
 * An ingress listener's `tls` is applied only where PeerAuthentication says DISABLE on its port
 * (mesh mTLS owns the port otherwise, and istiod drops the `tls` without a word): said, naming the
 * workload and the mode it has there.
 */
function unappliedIngressTls(sc: Sidecar, registry: Registry, peerAuths: readonly PeerAuthentication[]): Finding[] {
  const out: Finding[] = [];
  const ns = namespaceOf(sc);
  const labels = selectorOf(sc);
  // The workloads it selects; none known: one standing for them, with the selector's labels.
  const known = registry.select(ns, labels ?? {});
  const workloads = known.length
    ? known
    : [{ namespace: ns, labels: labels ?? {}, source: `workloads of ${JSON.stringify(labels ?? {})}` }];
  sc.spec.ingress?.forEach((l, i) => {
    if (!l.tls || (l.tls.mode ?? 'PASSTHROUGH') === 'PASSTHROUGH') return;
    for (const w of workloads) {
      const mode = mtlsModeAt(peerAuthenticationChain(peerAuths, w), l.port.number);
      if (mode === 'DISABLE') continue;
      out.push(
        finding(
          'MAST0179',
          sc,
          `spec.ingress[${i}].tls`,
          `port ${l.port.number} of ${w.source} has mTLS ${mode}: its tls is not applied (set PeerAuthentication portLevelMtls ${l.port.number} to DISABLE)`,
        ),
      );
      break;
    }
  });
  return out;
}

/** Across the set: Istio's IST0111 (two namespace-wide Sidecars), IST0110 (two Sidecars for one workload), IST0101 (a selector that selects nothing); MAST0179. */
export function checkSidecars(sidecars: readonly Sidecar[], registry: Registry, peerAuths: readonly PeerAuthentication[] = []): Finding[] {
  const out: Finding[] = sidecars.flatMap((sc) => unappliedIngressTls(sc, registry, peerAuths));
  const wide = new Map<string, Sidecar[]>();
  for (const sc of sidecars) if (!selectorOf(sc)) wide.set(namespaceOf(sc), [...(wide.get(namespaceOf(sc)) ?? []), sc]);
  for (const [ns, list] of wide)
    if (list.length > 1)
      for (const sc of list)
        out.push(
          finding('MAST0227', sc, 'spec', `Sidecars ${names(list)} in ${ns} have no workloadSelector: which one applies is undefined`),
        );
  const byWorkload = new Map<Workload, Sidecar[]>();
  for (const sc of sidecars) {
    const labels = selectorOf(sc);
    if (!labels) continue;
    const selected = registry.select(namespaceOf(sc), labels);
    for (const w of selected) byWorkload.set(w, [...(byWorkload.get(w) ?? []), sc]);
    if (registry.knowsWorkloads && selected.length === 0)
      out.push(
        finding(
          'MAST0228',
          sc,
          'spec.workloadSelector',
          `workloadSelector ${JSON.stringify(labels)} matches no workload in ${namespaceOf(sc)}`,
        ),
      );
  }
  const reported = new Set<Sidecar>();
  for (const [w, list] of byWorkload) {
    if (list.length < 2) continue;
    for (const sc of list) {
      if (reported.has(sc)) continue;
      reported.add(sc);
      out.push(
        finding(
          'MAST0226',
          sc,
          'spec.workloadSelector',
          `Sidecars ${names(list)} select the same workload (${w.source}): which one applies is undefined`,
        ),
      );
    }
  }
  return out;
}
