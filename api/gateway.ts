/** networking.istio.io/v1 Gateway: the ports and hosts a gateway proxy serves. */
import { arr, bool, int, labels, obj, oneOf, req, str, strs, type Infer } from './schema';
import { portProtocol, tlsProtocolVersion } from './common';

export const serverTlsMode = oneOf(['PASSTHROUGH', 'SIMPLE', 'MUTUAL', 'AUTO_PASSTHROUGH', 'ISTIO_MUTUAL', 'OPTIONAL_MUTUAL'] as const);

export const serverTls = obj({
  httpsRedirect: bool(),
  mode: serverTlsMode,
  serverCertificate: str(),
  privateKey: str(),
  caCertificates: str(),
  caCrl: str(),
  credentialName: str('Secret holding the certificate, in the gateway namespace.'),
  credentialNames: strs(),
  subjectAltNames: strs(),
  verifyCertificateSpki: strs(),
  verifyCertificateHash: strs(),
  minProtocolVersion: tlsProtocolVersion,
  maxProtocolVersion: tlsProtocolVersion,
  cipherSuites: strs(),
});

export const gatewayPort = obj({
  number: req(int(1, 65535)),
  protocol: req(portProtocol),
  name: str(),
  targetPort: int(1, 65535),
});

export const server = obj({
  port: req(gatewayPort),
  bind: str(),
  hosts: req(strs('[namespace/]host; "*" or a "*." prefix for wildcards.')),
  tls: serverTls,
  name: str(),
  defaultEndpoint: str(),
});

export const gatewaySpec = obj({
  selector: labels('Labels of the gateway proxy pods this Gateway configures.'),
  servers: req(arr(server)),
});

export type GatewaySpec = Infer<typeof gatewaySpec>;
export type GatewayServer = Infer<typeof server>;
export type ServerTlsSettings = Infer<typeof serverTls>;
