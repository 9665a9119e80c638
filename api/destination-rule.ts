/** networking.istio.io/v1 DestinationRule: policy for traffic after routing (subsets, LB, pools, TLS). */
import { arr, bool, duration, int, labels, obj, oneOf, req, str, strs, type Infer } from './schema';
import { exportTo, portSelector, workloadSelector } from './common';
import { localityLbSetting } from './locality';

export const loadBalancer = obj({
  simple: oneOf(['UNSPECIFIED', 'LEAST_CONN', 'RANDOM', 'PASSTHROUGH', 'ROUND_ROBIN', 'LEAST_REQUEST'] as const),
  consistentHash: obj({
    httpHeaderName: str(),
    httpCookie: obj({ name: req(str()), path: str(), ttl: duration() }),
    useSourceIp: bool(),
    httpQueryParameterName: str(),
    ringHash: obj({ minimumRingSize: int(0) }),
    maglev: obj({ tableSize: int(0) }),
    minimumRingSize: int(0),
  }),
  localityLbSetting,
  warmupDurationSecs: duration(),
});

export const connectionPool = obj({
  tcp: obj({
    maxConnections: int(0),
    connectTimeout: duration(),
    maxConnectionDuration: duration(),
    idleTimeout: duration(),
    tcpKeepalive: obj({ probes: int(0), time: duration(), interval: duration() }),
  }),
  http: obj({
    http1MaxPendingRequests: int(0),
    http2MaxRequests: int(0),
    maxRequestsPerConnection: int(0),
    maxRetries: int(0),
    idleTimeout: duration(),
    h2UpgradePolicy: oneOf(['DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE'] as const),
    useClientProtocol: bool(),
    maxConcurrentStreams: int(0),
  }),
});

export const outlierDetection = obj({
  consecutiveErrors: int(0),
  consecutive5xxErrors: int(0),
  consecutiveGatewayErrors: int(0),
  consecutiveLocalOriginFailures: int(0),
  splitExternalLocalOriginErrors: bool(),
  interval: duration(),
  baseEjectionTime: duration(),
  maxEjectionPercent: int(0, 100),
  minHealthPercent: int(0, 100),
});

export const clientTls = obj({
  mode: oneOf(['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL'] as const),
  clientCertificate: str(),
  privateKey: str(),
  caCertificates: str(),
  credentialName: str(),
  subjectAltNames: strs(),
  sni: str(),
  insecureSkipVerify: bool(),
  caCrl: str(),
});

const policyFields = { loadBalancer, connectionPool, outlierDetection, tls: clientTls };

export const trafficPolicy = obj({
  ...policyFields,
  portLevelSettings: arr(obj({ port: portSelector, ...policyFields })),
});

export const subset = obj({ name: req(str()), labels: labels(), trafficPolicy });

export const destinationRuleSpec = obj({
  host: req(str('Service this applies to: short name, FQDN or "*." wildcard.')),
  trafficPolicy,
  subsets: arr(subset),
  exportTo,
  workloadSelector,
});

export type DestinationRuleSpec = Infer<typeof destinationRuleSpec>;
export type TrafficPolicy = Infer<typeof trafficPolicy>;
export type Subset = Infer<typeof subset>;

export type ClientTlsSettings = NonNullable<TrafficPolicy['tls']>;

/**
 * Every `tls` of a DestinationRule, with its path: the top level, each port's, each subset's and its
 * ports'. Safe on a spec not validated yet (a list that is not one is skipped).
 */
export function clientTlsSettings(spec: DestinationRuleSpec): Array<{ readonly at: string; readonly tls: ClientTlsSettings }> {
  const out: Array<{ at: string; tls: ClientTlsSettings }> = [];
  const list = <T>(v: T[] | undefined): T[] => (Array.isArray(v) ? v : []);
  const policy = (p: TrafficPolicy | undefined, at: string) => {
    if (p?.tls) out.push({ at: `${at}.tls`, tls: p.tls });
    list(p?.portLevelSettings).forEach((l, i) => l?.tls && out.push({ at: `${at}.portLevelSettings[${i}].tls`, tls: l.tls }));
  };
  policy(spec.trafficPolicy, 'spec.trafficPolicy');
  list(spec.subsets).forEach((s, i) => policy(s?.trafficPolicy, `spec.subsets[${i}].trafficPolicy`));
  return out;
}
