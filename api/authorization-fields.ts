/**
 * Which AuthorizationPolicy fields mast-proxy evaluates, by the traffic at hand: the proxy cuts each
 * rule down to these before matching (fail closed: an ALLOW rule with any other field matches
 * nothing, a DENY rule matches with it ignored, as Istio builds its TCP filters), and validation
 * names the others (MAST0301). One list for both.
 */
export type AuthzProtocol = 'http' | 'tcp';

/**
 * `from.source` fields: from the socket or the verified peer certificate on any traffic; request
 * principals (`iss/sub` of a verified JWT, RequestAuthentication) on HTTP only.
 */
const CONNECTION_SOURCE_FIELDS = [
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
];
export const EVALUATED_SOURCE_FIELDS: Readonly<Record<AuthzProtocol, ReadonlySet<string>>> = {
  tcp: new Set(CONNECTION_SOURCE_FIELDS),
  http: new Set([...CONNECTION_SOURCE_FIELDS, 'requestPrincipals', 'notRequestPrincipals']),
};

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
/** The verified JWT's attributes (RequestAuthentication), HTTP only. */
const AUTH_KEYS: ReadonlySet<string> = new Set(['request.auth.principal', 'request.auth.audiences', 'request.auth.presenter']);
/** `request.auth.claims[groups]`, nested `request.auth.claims[a][b]`: the claim's path. */
export const CLAIM_KEY = /^request\.auth\.claims((?:\[[^[\]]+\])+)$/;

/** The claim path of a `request.auth.claims[...]` key (`[a][b]` → `['a', 'b']`), or undefined. */
export function claimPath(key: string): string[] | undefined {
  const m = CLAIM_KEY.exec(key);
  return m ? m[1].slice(1, -1).split('][') : undefined;
}

/** Whether a `when` key is evaluated on this traffic (request headers and `request.auth.*` on HTTP only). */
export const conditionEvaluated = (key: string, protocol: AuthzProtocol): boolean =>
  CONNECTION_KEYS.has(key) || (protocol === 'http' && (HEADER_KEY.test(key) || AUTH_KEYS.has(key) || CLAIM_KEY.test(key)));
