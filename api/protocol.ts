/**
 * A service port's application protocol, read as Istio reads it: a ServiceEntry port says it in
 * `protocol`; a Kubernetes Service port by its `appProtocol`, else by its name's prefix (`grpc`,
 * `grpc-web…`, `http2-…`, case-insensitive), UDP by its L4 `protocol`. Pure; the compiler picks
 * TCP or HTTP listeners and the upstream HTTP version from it.
 */

/** Istio's protocol names (upper case here; Istio compares them case-insensitively). */
export type AppProtocol =
  | 'HTTP'
  | 'HTTP2'
  | 'GRPC'
  | 'GRPC-WEB'
  | 'HTTPS'
  | 'HTTP_PROXY'
  | 'TCP'
  | 'TLS'
  | 'UDP'
  | 'MONGO'
  | 'REDIS'
  | 'MYSQL';

const NAMES: ReadonlySet<string> = new Set<AppProtocol>([
  'HTTP',
  'HTTP2',
  'GRPC',
  'GRPC-WEB',
  'HTTPS',
  'HTTP_PROXY',
  'TCP',
  'TLS',
  'UDP',
  'MONGO',
  'REDIS',
  'MYSQL',
]);

/** A protocol name, any case; undefined when Istio does not know it (it would sniff the port). */
export function parseAppProtocol(name: string | undefined): AppProtocol | undefined {
  const upper = name?.toUpperCase();
  return upper !== undefined && NAMES.has(upper) ? (upper as AppProtocol) : undefined;
}

/** Ports whose unnamed traffic Istio never sniffs (server-first protocols): SMTP, DNS, MySQL, MongoDB. */
const WELL_KNOWN_TCP_PORTS: ReadonlySet<number> = new Set([25, 53, 3306, 27017]);

/** Kubernetes' standard `appProtocol` values, which are not port-name prefixes. */
const KUBERNETES_APP_PROTOCOLS: Readonly<Record<string, AppProtocol>> = {
  'kubernetes.io/h2c': 'HTTP2',
  'kubernetes.io/ws': 'HTTP',
  'kubernetes.io/wss': 'HTTPS',
};

/**
 * A Kubernetes Service port's protocol as Istio's ConvertProtocol: UDP by the L4 protocol; else
 * `appProtocol` when set, else the port name, taken up to its first `-` (`grpc-web` whole); a
 * name Istio does not know is TCP on a well-known server-first port, else undefined (Istio sniffs).
 */
export function kubernetesPortProtocol(port: {
  readonly number: number;
  readonly name?: string;
  readonly protocol?: string;
  readonly appProtocol?: string;
}): AppProtocol | undefined {
  if (port.protocol?.toUpperCase() === 'UDP') return 'UDP';
  const name = port.appProtocol ?? port.name ?? '';
  if (port.appProtocol !== undefined && KUBERNETES_APP_PROTOCOLS[port.appProtocol]) return KUBERNETES_APP_PROTOCOLS[port.appProtocol];
  if (name.toUpperCase().startsWith('GRPC-WEB')) return 'GRPC-WEB';
  const dash = name.indexOf('-');
  const parsed = parseAppProtocol(dash >= 0 ? name.slice(0, dash) : name);
  return parsed ?? (WELL_KNOWN_TCP_PORTS.has(port.number) ? 'TCP' : undefined);
}

/** Protocols whose upstream is HTTP/2 (Istio's IsHTTP2: gRPC-Web too, as Envoy turns it into gRPC upstream). */
export const isHttp2Protocol = (p: string | undefined): boolean => p === 'HTTP2' || p === 'GRPC' || p === 'GRPC-WEB';
