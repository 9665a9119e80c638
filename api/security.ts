/** security.istio.io/v1 PeerAuthentication and AuthorizationPolicy. */
import { arr, map, obj, oneOf, req, str, strs, type Infer } from './schema';
import { workloadSelector } from './common';

export const mtlsMode = oneOf(['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'] as const);

export const peerAuthenticationSpec = obj({
  selector: workloadSelector,
  mtls: obj({ mode: mtlsMode }),
  portLevelMtls: map(obj({ mode: mtlsMode }), 'Port number to the mTLS mode on that port.'),
});

const source = obj({
  principals: strs(),
  notPrincipals: strs(),
  requestPrincipals: strs(),
  notRequestPrincipals: strs(),
  namespaces: strs(),
  notNamespaces: strs(),
  serviceAccounts: strs(),
  notServiceAccounts: strs(),
  ipBlocks: strs(),
  notIpBlocks: strs(),
  remoteIpBlocks: strs(),
  notRemoteIpBlocks: strs(),
});

const operation = obj({
  hosts: strs(),
  notHosts: strs(),
  ports: strs(),
  notPorts: strs(),
  methods: strs(),
  notMethods: strs(),
  paths: strs(),
  notPaths: strs(),
});

export const authorizationRule = obj({
  from: arr(obj({ source })),
  to: arr(obj({ operation })),
  when: arr(obj({ key: req(str()), values: strs(), notValues: strs() })),
});

export const authorizationPolicySpec = obj({
  selector: workloadSelector,
  action: oneOf(['ALLOW', 'DENY', 'AUDIT', 'CUSTOM'] as const),
  provider: obj({ name: str() }),
  rules: arr(authorizationRule),
});

export type PeerAuthenticationSpec = Infer<typeof peerAuthenticationSpec>;
export type AuthorizationPolicySpec = Infer<typeof authorizationPolicySpec>;
export type AuthorizationRule = Infer<typeof authorizationRule>;
