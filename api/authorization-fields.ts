/**
 * Which AuthorizationPolicy fields mast-proxy evaluates, by the traffic at hand: the proxy cuts each
 * rule down to these before matching (fail closed: an ALLOW rule with any other field matches
 * nothing, a DENY rule matches with it ignored, as Istio builds its TCP filters), and validation
 * names the others (MAST0301). One list for both.
 */
export type AuthzProtocol = 'http' | 'tcp';

/** `from.source` fields: all from the socket or the verified peer certificate, so on any traffic. */
export const EVALUATED_SOURCE_FIELDS: ReadonlySet<string> = new Set([
  'principals',
  'notPrincipals',
  'namespaces',
  'notNamespaces',
  'serviceAccounts',
  'notServiceAccounts',
  'ipBlocks',
  'notIpBlocks',
  'remoteIpBlocks',
  'notRemoteIpBlocks',
]);

/** `to.operation` fields: on TCP only the port is known (hosts, methods and paths are Istio's HTTP-only fields). */
export const EVALUATED_OPERATION_FIELDS: Readonly<Record<AuthzProtocol, ReadonlySet<string>>> = {
  tcp: new Set(['ports', 'notPorts']),
  http: new Set(['ports', 'notPorts', 'hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths']),
};

const CONNECTION_KEYS: ReadonlySet<string> = new Set([
  'source.ip',
  'remote.ip',
  'source.namespace',
  'source.principal',
  'destination.port',
]);
export const HEADER_KEY = /^request\.headers\[(.+)\]$/;

/** Whether a `when` key is evaluated on this traffic (request headers on HTTP only). */
export const conditionEvaluated = (key: string, protocol: AuthzProtocol): boolean =>
  CONNECTION_KEYS.has(key) || (protocol === 'http' && HEADER_KEY.test(key));
