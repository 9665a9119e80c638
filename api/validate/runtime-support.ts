/**
 * Istio fields the API takes but mast-proxy does not apply yet: a Warning for each one set
 * (MAST0301), naming what happens instead, so a rule that would behave otherwise than under
 * Istio never passes in silence. Pure; the README's "Supported fields" table says the same.
 */
import { finding, type Finding } from '../findings';
import type { AnyMeshResource, DestinationRule } from '../resources';
import { conditionEvaluated, EVALUATED_SOURCE_FIELDS } from '../authorization-fields';
import { checkDryRunAnnotation } from '../dry-run';

type Policy = NonNullable<DestinationRule['spec']['trafficPolicy']>;

export function checkRuntimeSupport(r: AnyMeshResource): Finding[] {
  const out: Finding[] = [];
  const warn = (path: string, what: string) => out.push(finding('MAST0301', r, path, `${what} (not applied by mast-proxy yet)`));
  switch (r.kind) {
    case 'VirtualService':
      r.spec.tcp?.forEach((route, i) =>
        route.match?.forEach((m, j) => {
          for (const field of ['sourceSubnet', 'destinationSubnets'] as const)
            if (m[field] !== undefined) warn(`spec.tcp[${i}].match[${j}].${field}`, `${field}: the match ignores it`);
        }),
      );
      break;
    case 'Gateway':
      r.spec.servers.forEach((server, i) => {
        if (server.bind !== undefined) warn(`spec.servers[${i}].bind`, 'bind: the server listens on every address');
        const tls = server.tls;
        // Istio terminates TLS there and routes the plaintext by `tcp` routes; mast-proxy forwards the TLS bytes as they come.
        if (
          server.port.protocol.toUpperCase() === 'TLS' &&
          (tls?.mode === 'SIMPLE' || tls?.mode === 'MUTUAL' || tls?.mode === 'OPTIONAL_MUTUAL')
        )
          warn(
            `spec.servers[${i}].tls.mode`,
            `mode ${tls.mode} on a TLS server: TLS is not terminated, the connection is forwarded as TCP`,
          );
        if (tls?.mode === 'AUTO_PASSTHROUGH') warn(`spec.servers[${i}].tls.mode`, `mode ${tls.mode}: the server is not listened on`);
        // Istio would terminate the mesh's mTLS and route the plaintext by `tcp` routes; mast terminates it on HTTPS servers only.
        if (tls?.mode === 'ISTIO_MUTUAL' && server.port.protocol.toUpperCase() !== 'HTTPS')
          warn(
            `spec.servers[${i}].tls.mode`,
            `mode ISTIO_MUTUAL on a ${server.port.protocol} server: the server is not listened on (HTTPS servers only)`,
          );
        // Istio serves an RSA and an ECDSA certificate side by side; mast-proxy one per server.
        if ((tls?.credentialNames?.length ?? 0) > 1 && !tls?.credentialName)
          warn(`spec.servers[${i}].tls.credentialNames`, 'credentialNames: only the first is served');
        for (const field of ['verifyCertificateSpki', 'verifyCertificateHash', 'caCrl'] as const)
          if (tls?.[field] !== undefined)
            warn(`spec.servers[${i}].tls.${field}`, `${field}: client certificates are checked against caCertificates only`);
      });
      break;
    case 'DestinationRule': {
      const policy = (p: Policy | undefined, at: string) => {
        if (p?.loadBalancer?.warmupDurationSecs !== undefined)
          warn(`${at}.loadBalancer.warmupDurationSecs`, 'warmup: new endpoints get their full share at once');
        if (p?.tls?.caCrl !== undefined) warn(`${at}.tls.caCrl`, 'caCrl: revoked server certificates are not refused');
        const pool = p?.connectionPool;
        if (pool?.http?.maxRetries !== undefined)
          warn(`${at}.connectionPool.http.maxRetries`, 'maxRetries: retries in flight to the cluster are not limited');
        if (pool?.tcp?.maxConnectionDuration !== undefined)
          warn(`${at}.connectionPool.tcp.maxConnectionDuration`, 'maxConnectionDuration: upstream connections live until idle or closed');
        if (pool?.tcp?.tcpKeepalive !== undefined)
          warn(`${at}.connectionPool.tcp.tcpKeepalive`, "tcpKeepalive: upstream sockets keep the system's keepalive settings");
      };
      const top = r.spec.trafficPolicy;
      policy(top, 'spec.trafficPolicy');
      top?.portLevelSettings?.forEach((p, i) => policy(p as Policy, `spec.trafficPolicy.portLevelSettings[${i}]`));
      r.spec.subsets?.forEach((s, i) => {
        policy(s.trafficPolicy, `spec.subsets[${i}].trafficPolicy`);
        s.trafficPolicy?.portLevelSettings?.forEach((p, j) =>
          policy(p as Policy, `spec.subsets[${i}].trafficPolicy.portLevelSettings[${j}]`),
        );
      });
      break;
    }
    case 'ServiceEntry':
      // Istio resolves each request's host through DNS then (a dynamic forward proxy, for wildcard hosts).
      if (r.spec.resolution === 'DYNAMIC_DNS')
        warn('spec.resolution', 'resolution DYNAMIC_DNS: the hosts get only the endpoints given, none resolved per request');
      r.spec.endpoints?.forEach(
        (e, i) => e.weight !== undefined && warn(`spec.endpoints[${i}].weight`, 'endpoint weight: endpoints share traffic equally'),
      );
      break;
    case 'WorkloadEntry':
      if (r.spec.weight !== undefined) warn('spec.weight', 'weight: endpoints share traffic equally');
      break;
    case 'AuthorizationPolicy':
      out.push(...checkDryRunAnnotation(r));
      if (r.spec.action === 'CUSTOM') warn('spec.action', 'CUSTOM (an external authorizer): it fails closed, its rules deny');
      r.spec.rules?.forEach((rule, i) => {
        // Fields the proxy does not evaluate fail closed (api/authorization-fields.ts): say what that does here.
        const effect =
          r.spec.action === 'DENY' || r.spec.action === 'CUSTOM'
            ? 'this DENY rule matches with it ignored (it denies more)'
            : r.spec.action === 'AUDIT'
              ? 'AUDIT decides nothing'
              : 'this ALLOW rule matches nothing';
        rule.from?.forEach((f, j) => {
          for (const [field, v] of Object.entries(f.source ?? {}))
            if (Array.isArray(v) && v.length && !EVALUATED_SOURCE_FIELDS.http.has(field))
              warn(`spec.rules[${i}].from[${j}].source.${field}`, `${field}: mast-proxy does not evaluate it; ${effect}`);
        });
        rule.when?.forEach((c, j) => {
          if (!conditionEvaluated(c.key, 'http')) warn(`spec.rules[${i}].when[${j}].key`, `condition "${c.key}": ${effect}`);
        });
      });
      break;
    case 'RequestAuthentication':
      // Istio would discover the keys from the issuer's OpenID configuration; without keys every token of the issuer fails.
      r.spec.jwtRules?.forEach((rule, i) => {
        if (rule.jwks === undefined && rule.jwksUri === undefined)
          warn(
            `spec.jwtRules[${i}]`,
            `no jwks or jwksUri: keys are not discovered from the issuer (OpenID discovery), so its tokens are refused (401)`,
          );
        if (rule.timeout !== undefined)
          warn(`spec.jwtRules[${i}].timeout`, 'timeout: mastd fetches every jwksUri with its own timeout (5 s)');
      });
      break;
    case 'Sidecar':
      // Ingress listeners are served (runtime/compile/sidecar-ingress.ts); what is not applied of them:
      r.spec.ingress?.forEach((l, i) => {
        const at = `spec.ingress[${i}]`;
        if (l.bind !== undefined) warn(`${at}.bind`, 'bind: the listener stays where the sidecar listens');
        if (l.captureMode !== undefined) warn(`${at}.captureMode`, 'captureMode: capture is set up for the whole pod');
        if (l.connectionPool) warn(`${at}.connectionPool`, 'connectionPool: connections to the app are not limited');
        if (l.defaultEndpoint?.startsWith('unix://'))
          warn(`${at}.defaultEndpoint`, 'a unix domain socket endpoint: the listener is not served');
        if (l.tls && (l.tls.mode ?? 'PASSTHROUGH') === 'PASSTHROUGH')
          warn(
            `${at}.tls.mode`,
            'mode PASSTHROUGH (the default): only SIMPLE and MUTUAL are terminated; the port is served without this TLS',
          );
      });
      if (r.spec.inboundConnectionPool) warn('spec.inboundConnectionPool', 'inboundConnectionPool: connections to the app are not limited');
      r.spec.egress?.forEach((l, i) => {
        if (l.bind !== undefined) warn(`spec.egress[${i}].bind`, 'bind: the outbound listener stays where the sidecar listens');
        if (l.captureMode !== undefined) warn(`spec.egress[${i}].captureMode`, 'captureMode: capture is set up for the whole pod');
        if (l.port?.number === 0) warn(`spec.egress[${i}].port`, 'a unix domain socket listener: not listened on');
      });
      if (r.spec.outboundTrafficPolicy?.egressProxy)
        warn('spec.outboundTrafficPolicy.egressProxy', 'egressProxy: unknown hosts pass through to their own address');
      break;
  }
  return out;
}
