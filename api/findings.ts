/** Findings: what validate() reports. Codes are stable: never renumber, only add. */

export type Severity = 'Error' | 'Warning' | 'Info';

export interface Finding {
  /** Stable mast code, e.g. MAST0101. */
  readonly code: string;
  /** The matching `istioctl analyze` message code, where the meaning is the same. */
  readonly istioCode?: string;
  readonly severity: Severity;
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
  /** Field path inside the resource, e.g. `spec.http[0].route[1].weight`. */
  readonly path: string;
  readonly message: string;
  readonly file?: string;
  readonly line?: number;
}

interface CodeInfo {
  readonly severity: Severity;
  readonly title: string;
  readonly istioCode?: string;
}

/** Every code mast reports, with its default severity and Istio equivalent. */
export const CODES = {
  MAST0001: { severity: 'Error', title: 'Unknown field' },
  MAST0002: { severity: 'Error', title: 'Field has the wrong type' },
  MAST0003: { severity: 'Error', title: 'Required field missing' },
  MAST0004: { severity: 'Error', title: 'Value not allowed' },
  MAST0005: { severity: 'Error', title: 'Number out of range' },
  MAST0006: { severity: 'Error', title: 'Unsupported kind or apiVersion in an Istio API group' },
  MAST0007: { severity: 'Error', title: 'Invalid metadata (name, namespace)' },
  MAST0008: { severity: 'Error', title: 'Invalid YAML document' },
  MAST0009: { severity: 'Error', title: 'Duplicate resource' },
  MAST0010: { severity: 'Error', title: 'Resource too large' },
  MAST0011: { severity: 'Error', title: 'Input file too large' },
  MAST0012: { severity: 'Warning', title: 'Kind of an API group mast does not read (ignored)' },
  MAST0101: { severity: 'Error', title: 'All route weights are zero' },
  MAST0102: { severity: 'Info', title: 'Route weights do not sum to 100 (they are relative)' },
  MAST0103: { severity: 'Error', title: 'Route combines route, redirect and directResponse' },
  MAST0104: { severity: 'Error', title: 'Percentage outside 0-100' },
  MAST0105: { severity: 'Error', title: 'Invalid regular expression (RE2)' },
  MAST0106: { severity: 'Error', title: 'Invalid duration' },
  MAST0107: { severity: 'Error', title: 'String match must set exactly one of exact, prefix, regex' },
  MAST0108: { severity: 'Error', title: 'HTTP route has no action' },
  MAST0109: { severity: 'Error', title: 'Unknown port protocol' },
  MAST0110: { severity: 'Error', title: 'Invalid host' },
  MAST0111: { severity: 'Error', title: 'Duplicate name' },
  MAST0112: { severity: 'Error', title: 'Conflicting ports' },
  MAST0113: { severity: 'Error', title: 'Both mirror and mirrors set' },
  MAST0114: { severity: 'Error', title: 'Gateway TLS settings incomplete' },
  MAST0115: { severity: 'Error', title: 'Unknown retryOn condition' },
  MAST0116: { severity: 'Error', title: 'Unknown gRPC status name' },
  MAST0117: { severity: 'Error', title: 'Fault abort sets more than one error type' },
  MAST0118: { severity: 'Error', title: 'Fault abort http2Error is not supported (Istio rejects it)' },
  MAST0119: { severity: 'Error', title: 'h2UpgradePolicy UPGRADE with useClientProtocol' },
  MAST0120: { severity: 'Warning', title: 'Connection pool limit 0 means no limit' },
  MAST0121: { severity: 'Error', title: 'JWT rule sets both jwks and jwksUri' },
  MAST0122: { severity: 'Error', title: 'Invalid inline JWKS' },
  MAST0123: { severity: 'Error', title: 'Invalid jwksUri (an http or https URL)' },
  MAST0124: { severity: 'Error', title: 'Empty JWT location, audience or output header' },
  MAST0125: { severity: 'Error', title: 'Sidecar configures nothing' },
  MAST0126: { severity: 'Error', title: 'Invalid Sidecar egress host (namespace/host)' },
  MAST0127: { severity: 'Error', title: 'Sidecar egress listener without port not last, or not alone' },
  MAST0128: { severity: 'Error', title: 'Invalid Sidecar ingress defaultEndpoint' },
  MAST0129: { severity: 'Error', title: 'Sidecar egressProxy without mode ALLOW_ANY' },
  MAST0130: { severity: 'Error', title: 'Telemetry custom tag is not exactly one of literal, environment, header' },
  MAST0131: { severity: 'Warning', title: 'Telemetry tracing names several providers (the first is used)' },
  MAST0132: { severity: 'Error', title: 'Invalid tracing mesh config (extension provider, default provider, sampling)' },
  // Retired: a provider without http is exported over OTLP/gRPC, as Istio's (never reported since).
  MAST0133: { severity: 'Warning', title: 'OpenTelemetry provider without http: mast exports OTLP/HTTP only (retired)' },
  MAST0134: { severity: 'Warning', title: 'Deprecated Istio field (still applied)' },
  MAST0135: { severity: 'Error', title: 'Invalid localityLbSetting (distribute weights or localities, failover regions)' },
  MAST0136: { severity: 'Warning', title: 'Locality failover without outlierDetection never fails over' },
  MAST0137: { severity: 'Warning', title: 'istio.io/dry-run annotation without effect (the policy is enforced)' },
  MAST0138: { severity: 'Error', title: 'Invalid trust domain (trustDomain, trustDomainAliases)' },
  MAST0160: { severity: 'Error', title: 'Invalid Grafana dashboards setting (namespace, labels, dashboard name)' },
  MAST0161: { severity: 'Error', title: 'Telemetry accessLogging filter expression is not CEL' },
  MAST0162: { severity: 'Error', title: 'Access log format with a command operator mast-proxy does not fill' },
  MAST0163: { severity: 'Error', title: 'Access log format is not of its encoding (JSON object, text or labels)' },
  MAST0164: { severity: 'Error', title: 'Default access log provider not among the extension providers' },
  MAST0165: {
    severity: 'Warning',
    title: 'Telemetry accessLogging names a provider that logs nothing (none by that name, or not an access log provider)',
  },
  MAST0170: { severity: 'Error', title: 'DestinationRule credential Secret not in the namespace of the proxies using it' },
  MAST0171: { severity: 'Info', title: 'DestinationRule credentialName without workloadSelector: applied at gateways only' },
  MAST0175: { severity: 'Error', title: 'Sidecar ingress TLS on a port that is not HTTPS or TLS' },
  MAST0176: {
    severity: 'Error',
    title: 'Sidecar ingress TLS setting Istio rejects (mode, credentialName, subjectAltNames, httpsRedirect)',
  },
  MAST0177: {
    severity: 'Error',
    title: 'Sidecar ingress TLS settings incomplete (serverCertificate, privateKey; caCertificates for MUTUAL)',
  },
  MAST0178: { severity: 'Error', title: 'targetPort in a Sidecar listener port (it has no effect there)' },
  MAST0179: { severity: 'Warning', title: 'Sidecar ingress TLS not applied: mTLS is not DISABLE on its port' },
  MAST0180: { severity: 'Error', title: 'Invalid envoyOtelAls access log provider (service, port, logName, logFormat)' },
  MAST0183: { severity: 'Error', title: 'Invalid zipkin tracing provider (service, port, path, maxTagLength, traceContextOption)' },
  MAST0184: { severity: 'Warning', title: 'Tracing provider kind mast-proxy does not speak (its proxies make no span)' },
  MAST0185: { severity: 'Error', title: 'Telemetry metrics override Istio refuses (a tag override without its value, a value on REMOVE)' },
  MAST0186: { severity: 'Warning', title: 'Telemetry metrics tag value that is not CEL (the label is left out)' },
  MAST0187: {
    severity: 'Warning',
    title: 'Telemetry metrics names what mast-proxy does not report (a provider that is not Prometheus, a custom metric)',
  },
  MAST0201: { severity: 'Error', title: 'Gateway not found', istioCode: 'IST0101' },
  MAST0202: { severity: 'Error', title: 'Destination host not found', istioCode: 'IST0101' },
  MAST0203: { severity: 'Error', title: 'Subset not found', istioCode: 'IST0101' },
  MAST0204: { severity: 'Error', title: 'Conflicting VirtualService hosts on the mesh', istioCode: 'IST0109' },
  MAST0205: { severity: 'Warning', title: 'Subset selects no workload', istioCode: 'IST0173' },
  MAST0206: { severity: 'Warning', title: 'Gateway host has no VirtualService' },
  MAST0207: { severity: 'Warning', title: 'VirtualService host not served by its gateway', istioCode: 'IST0132' },
  MAST0208: { severity: 'Error', title: 'Conflicting gateways', istioCode: 'IST0145' },
  MAST0209: { severity: 'Warning', title: 'Reference to a gateway generated from a Kubernetes Gateway', istioCode: 'IST0165' },
  MAST0210: { severity: 'Error', title: 'Destination port not found on the service', istioCode: 'IST0101' },
  MAST0211: { severity: 'Error', title: 'Destination port required: the service has several', istioCode: 'IST0112' },
  MAST0212: { severity: 'Error', title: 'Gateway selector matches no workload', istioCode: 'IST0101' },
  MAST0213: { severity: 'Warning', title: "Gateway port not defined on the gateway's Service", istioCode: 'IST0162' },
  MAST0214: { severity: 'Warning', title: 'Same certificate on gateways for the same workloads', istioCode: 'IST0138' },
  MAST0215: { severity: 'Error', title: 'Gateway credential Secret not found', istioCode: 'IST0101' },
  MAST0216: { severity: 'Warning', title: 'Mesh route subsets do not apply to ingress traffic', istioCode: 'IST0140' },
  MAST0217: { severity: 'Warning', title: 'Rule can never match', istioCode: 'IST0130' },
  MAST0218: { severity: 'Info', title: 'Match already covered by an earlier one', istioCode: 'IST0131' },
  MAST0219: { severity: 'Warning', title: 'DestinationRule TLS without CA verification', istioCode: 'IST0128' },
  MAST0220: { severity: 'Warning', title: 'DestinationRule port TLS without CA verification', istioCode: 'IST0129' },
  MAST0221: { severity: 'Warning', title: 'DestinationRule host matches no service', istioCode: 'IST0174' },
  MAST0222: { severity: 'Warning', title: 'AuthorizationPolicy selects no workload', istioCode: 'IST0127' },
  MAST0223: { severity: 'Warning', title: 'AuthorizationPolicy names a namespace that does not exist', istioCode: 'IST0101' },
  MAST0224: { severity: 'Warning', title: 'ServiceEntry needs addresses for a TCP port', istioCode: 'IST0134' },
  MAST0225: { severity: 'Warning', title: 'ServiceEntries declare one host and port with two protocols', istioCode: 'IST0177' },
  MAST0226: { severity: 'Error', title: 'Sidecars select the same workload', istioCode: 'IST0110' },
  MAST0227: { severity: 'Error', title: 'Several Sidecars without workloadSelector in a namespace', istioCode: 'IST0111' },
  MAST0228: { severity: 'Warning', title: 'Sidecar workloadSelector matches no workload', istioCode: 'IST0101' },
  MAST0229: { severity: 'Warning', title: 'TLS servers of one Gateway port share a host' },
  MAST0301: { severity: 'Warning', title: 'Istio field not applied by mast-proxy yet' },
  MAST0401: { severity: 'Warning', title: 'Workload not injected with a sidecar', istioCode: 'IST0103' },
} as const satisfies Record<string, CodeInfo>;

export type Code = keyof typeof CODES;

/** Identifies the resource a finding is about. */
export interface ResourceRef {
  readonly kind: string;
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
}

export function finding(code: Code, resource: ResourceRef, path: string, message: string): Finding {
  const info: CodeInfo = CODES[code];
  return {
    code,
    ...(info.istioCode ? { istioCode: info.istioCode } : {}),
    severity: info.severity,
    kind: resource.kind,
    namespace: resource.metadata?.namespace,
    name: resource.metadata?.name ?? '(unnamed)',
    path,
    message,
  };
}

export const isError = (f: Finding): boolean => f.severity === 'Error';

/** One line per finding: `Error MAST0101 VirtualService default/reviews spec.http[0]: message (file:line)`. */
export function formatFinding(f: Finding): string {
  const id = f.namespace ? `${f.namespace}/${f.name}` : f.name;
  const where = f.file ? ` (${f.file}${f.line ? `:${f.line}` : ''})` : '';
  const istio = f.istioCode ? ` [${f.istioCode}]` : '';
  return `${f.severity} ${f.code}${istio} ${f.kind} ${id} ${f.path}: ${f.message}${where}`;
}
