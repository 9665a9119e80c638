/**
 * Istio's MeshConfig as mast reads it: the `mesh` key of the `istio` ConfigMap in a root namespace
 * (what `meshConfig` of an IstioOperator or the Helm values becomes). The fields mast applies are
 * checked value by value; every other MeshConfig field is named as not applied (MAST0301) unless
 * it holds the value mast behaves as; a key MeshConfig does not have is unknown (MAST0001); text
 * that is not YAML is MAST0008. Never silence: the compiler (runtime/compile/mesh-config.ts) keeps
 * Istio's default for any value it cannot use, so a finding is the only sign of it.
 */
import { finding, type Finding } from './findings';
import type { KubeObject } from './resources';
import { obj, oneOf, type Infer } from './schema';
import { checkShape, isPlainObject } from './shape';
import { FORWARD_CLIENT_CERT_DETAILS, type ForwardClientCertDetails, type GatewayTopology } from './gateway-topology';
import { checkMeshLocality, type LocalityLbSetting } from './locality';
import { checkMeshTracing, type OpenTelemetryProvider, type ZipkinProvider } from './telemetry';
import { checkMeshAccessLog } from './access-log';
import { checkMeshMetrics } from './telemetry-metrics';
import { checkMeshTrustDomain } from './trust-domain';
import { ROOT_NAMESPACES } from './validate/policies';
import { MESH_CONFIGMAP } from './well-known';
import { yamlLibrary } from './yaml';

/** The key of the `istio` ConfigMap (MESH_CONFIGMAP, in a root namespace) holding the mesh config. */
export const MESH_CONFIG_KEY = 'mesh';

/** Is this the mesh config's ConfigMap? */
export const isMeshConfigMap = (o: KubeObject): boolean =>
  o.kind === 'ConfigMap' && o.metadata?.name === MESH_CONFIGMAP && ROOT_NAMESPACES.includes(o.metadata?.namespace ?? '');

/** The fields mast applies whose values are checked here (the tracing ones are telemetry.ts's). */
const applied = obj({
  pathNormalization: obj({ normalization: oneOf(['NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES', 'DEFAULT'] as const) }),
  h2UpgradePolicy: oneOf(['DO_NOT_UPGRADE', 'UPGRADE'] as const),
  outboundTrafficPolicy: obj({ mode: oneOf(['REGISTRY_ONLY', 'ALLOW_ANY'] as const) }),
  // Istio takes TLS 1.2 or 1.3 as the workload mTLS minimum (TLS_AUTO: 1.2).
  meshMTLS: obj({ minProtocolVersion: oneOf(['TLS_AUTO', 'TLSV1_2', 'TLSV1_3'] as const) }),
});

/** Istio's fields inside the applied objects that mast does not apply: named (MAST0301), not unknown. */
const NOT_APPLIED_INSIDE: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  outboundTrafficPolicy: { egressProxy: 'an egress proxy for unknown hosts is not applied by mast' },
  meshMTLS: {
    ecdhCurves: "mast-proxy's workload mTLS uses Node's default curves",
    cipherSuites: "mast-proxy's workload mTLS uses Node's default cipher suites",
  },
};

/**
 * The mesh config fields mast applies, typed (the `Mesh` construct's `meshConfig`): what the
 * `istio` ConfigMap's `mesh` holds, in Istio's field names and values.
 */
export type MeshConfig = Infer<typeof applied> & {
  /**
   * Tracing providers (OpenTelemetry over OTLP/gRPC or OTLP/HTTP, Zipkin) and access log providers (a file, its format),
   * named by defaultProviders and Telemetry.
   */
  readonly extensionProviders?: ReadonlyArray<
    | { readonly name: string; readonly opentelemetry: OpenTelemetryProvider }
    | { readonly name: string; readonly zipkin: ZipkinProvider }
    | { readonly name: string; readonly envoyFileAccessLog: EnvoyFileAccessLogProvider }
  >;
  readonly defaultProviders?: {
    readonly tracing?: readonly string[];
    readonly accessLogging?: readonly string[];
    /** Metrics providers: Prometheus ones (the built-in `prometheus`, Istio's default) are reported to. @default ['prometheus'] */
    readonly metrics?: readonly string[];
  };
  /** Every proxy's access log: a file (`/dev/stdout`, a path). @default '' (no access log, as Istio) */
  readonly accessLogFile?: string;
  /** The access log's encoding. @default 'TEXT' (Istio's) */
  readonly accessLogEncoding?: 'TEXT' | 'JSON';
  /** Envoy command operators; with JSON encoding, a JSON object of them. @default Istio's default format of the encoding */
  readonly accessLogFormat?: string;
  readonly defaultConfig?: {
    readonly tracing?: { readonly sampling?: number };
    readonly meshId?: string;
    /** What is in front of the gateways, read by each when it starts (`proxyProtocol: {}` in Istio's YAML). */
    readonly gatewayTopology?: Omit<GatewayTopology, 'proxyProtocol'> & { readonly proxyProtocol?: Record<string, never> };
  };
  /** Locality load balancing for the whole mesh (a DestinationRule's own setting overrides it). */
  readonly localityLbSetting?: LocalityLbSetting;
  /** The trust domain of workload identities (read by mastd and `mast local` at start). @default 'cluster.local' */
  readonly trustDomain?: string;
  /** Other trust domains taken as this one in AuthorizationPolicy principals (a trust domain migration). */
  readonly trustDomainAliases?: readonly string[];
};

/** An `envoyFileAccessLog` extension provider: where its lines go, and their format (text, or JSON labels). */
export interface EnvoyFileAccessLogProvider {
  /** @default '/dev/stdout' */
  readonly path?: string;
  readonly logFormat?: { readonly text: string } | { readonly labels: Readonly<Record<string, unknown>> };
}

/**
 * Applied, checked by telemetry.ts (the tracing providers, the default tracing provider, sampling and meshId),
 * access-log.ts (the access log file, encoding, format and providers), locality.ts and trust-domain.ts.
 */
const CHECKED_ELSEWHERE = [
  'accessLogFile',
  'accessLogFormat',
  'accessLogEncoding',
  'extensionProviders',
  'defaultProviders',
  'defaultConfig',
  'localityLbSetting',
  'trustDomain',
  'trustDomainAliases',
];

/**
 * Every other field of Istio's MeshConfig (istio/api mesh/v1alpha1/config.proto, JSON names),
 * with what mast does instead when it has something to say, and the value mast already behaves as
 * (no finding for it).
 */
const NOT_APPLIED: Readonly<Record<string, { readonly instead?: string; readonly matches?: unknown }>> = {
  proxyListenPort: { instead: "the sidecar's outbound port is set at injection", matches: 15001 },
  proxyInboundListenPort: { instead: "the sidecar's inbound port is set at injection", matches: 15006 },
  proxyHttpPort: {},
  connectTimeout: { instead: "a DestinationRule's connectionPool.tcp.connectTimeout (mast's default is Envoy's 10s)", matches: '10s' },
  hboneIdleTimeout: { instead: 'mast has no ambient mode' },
  protocolDetectionTimeout: { instead: 'mast sniffs no protocol: ports are named by protocol' },
  tcpKeepalive: {},
  ingressClass: { instead: 'the Kubernetes Ingress kind is not read (MAST0012)' },
  ingressService: { instead: 'the Kubernetes Ingress kind is not read (MAST0012)' },
  ingressControllerMode: { instead: 'the Kubernetes Ingress kind is not read (MAST0012)' },
  ingressSelector: { instead: 'the Kubernetes Ingress kind is not read (MAST0012)' },
  enableTracing: { instead: 'tracing follows extensionProviders, defaultProviders.tracing and Telemetry', matches: true },
  enableEnvoyAccessLogService: {},
  disableEnvoyListenerLog: {},
  inboundTrafficPolicy: {},
  configSources: { instead: 'mastd reads the Kubernetes API or a directory (--source)' },
  enableAutoMtls: { instead: 'mast always sends mTLS to workloads with a sidecar', matches: true },
  caCertificates: {},
  defaultServiceExportTo: { instead: 'every service is visible in every namespace', matches: ['*'] },
  defaultVirtualServiceExportTo: { instead: 'every VirtualService is visible in every namespace', matches: ['*'] },
  defaultDestinationRuleExportTo: { instead: 'every DestinationRule is visible in every namespace', matches: ['*'] },
  rootNamespace: { instead: "mast's root namespaces are mast-system and istio-system", matches: 'istio-system' },
  zoneAwareLbSetting: {},
  dnsRefreshRate: {},
  inboundClusterStatName: {},
  outboundClusterStatName: {},
  certificates: {},
  serviceSettings: {},
  serviceScopeConfigs: {},
  enablePrometheusMerge: { instead: "mast-proxy always merges the app's metrics into its own", matches: true },
  verifyCertificateAtClient: {},
  ca: { instead: 'mastd is the CA' },
  discoverySelectors: {},
  defaultHttpRetryPolicy: { instead: "Istio's default retry policy (2 attempts) applies" },
  tlsDefaults: {},
  defaultTrafficPolicy: {},
  serviceEntryVisibility: {},
};

const KNOWN = [...Object.keys(applied.fields), ...CHECKED_ELSEWHERE, ...Object.keys(NOT_APPLIED)];

/** The mesh config's findings; undefined for any object other than its ConfigMap. */
export function meshConfigFindings(o: KubeObject): Finding[] | undefined {
  if (!isMeshConfigMap(o)) return undefined;
  const text = (o as { data?: Record<string, unknown> }).data?.[MESH_CONFIG_KEY];
  if (text === undefined) return [];
  const at = `data.${MESH_CONFIG_KEY}`;
  if (typeof text !== 'string') return [finding('MAST0002', o, at, `the mesh config is YAML text, not ${typeof text}`)];
  let mesh: unknown;
  try {
    mesh = yamlLibrary().parse(text);
  } catch (e) {
    return [finding('MAST0008', o, at, `the mesh config is not YAML: ${(e as Error).message.split('\n')[0]}`)];
  }
  if (mesh === null || mesh === undefined) return [];
  if (!isPlainObject(mesh)) return [finding('MAST0002', o, at, 'the mesh config is a YAML mapping of MeshConfig fields')];
  return [
    ...checkFields(o, mesh, at),
    ...checkDefaultConfig(o, mesh.defaultConfig),
    ...checkMeshTracing(o, mesh),
    ...checkMeshAccessLog(o, mesh),
    ...checkMeshMetrics(o, mesh),
    ...checkMeshLocality(o, mesh),
    ...checkMeshTrustDomain(o, mesh),
  ];
}

/** Istio's ProxyConfig fields (istio/api mesh/v1alpha1/proxy.proto, JSON names) that `defaultConfig` may hold. */
const PROXY_CONFIG_FIELDS = [
  'configPath',
  'binaryPath',
  'serviceCluster',
  'tracingServiceName',
  'drainDuration',
  'discoveryAddress',
  'discoveryRefreshDelay',
  'zipkinAddress',
  'statsdUdpAddress',
  'envoyMetricsServiceAddress',
  'proxyAdminPort',
  'availabilityZone',
  'controlPlaneAuthPolicy',
  'customConfigFile',
  'statNameLength',
  'concurrency',
  'proxyBootstrapTemplatePath',
  'interceptionMode',
  'tracing',
  'sds',
  'envoyAccessLogService',
  'envoyMetricsService',
  'proxyMetadata',
  'runtimeValues',
  'statusPort',
  'extraStatTags',
  'gatewayTopology',
  'terminationDrainDuration',
  'meshId',
  'readinessProbe',
  'proxyStatsMatcher',
  'holdApplicationUntilProxyStarts',
  'caCertificatesPem',
  'image',
  'privateKeyProvider',
  'proxyHeaders',
  'fileFlushInterval',
  'fileFlushMinSizeKb',
  'statsCompression',
  'connectionSettings',
];

/** What mast does instead of a ProxyConfig field it does not read, where it has something to say. */
const PROXY_CONFIG_INSTEAD: Readonly<Record<string, string>> = {
  concurrency: "mast-proxy's --workers",
  drainDuration: "mast-proxy's --drain-seconds",
  terminationDrainDuration: "mast-proxy's --drain-seconds",
  fileFlushInterval: "mast-proxy's --access-log-flush-ms (1000 by default, as Istio's)",
  fileFlushMinSizeKb: 'mast-proxy writes its access log at once past 64 KiB, as Istio by default',
  holdApplicationUntilProxyStarts: 'the sidecar is a native sidecar (an init container that starts first)',
};

/**
 * The mesh config's `defaultConfig` (Istio's ProxyConfig for every proxy): mast reads `tracing.sampling`,
 * `tracing.customTags` and `tracing.maxPathTagLength` (either spelling), `meshId` and `gatewayTopology` (gateway-topology.ts: the gateways' flags); every other ProxyConfig
 * field is named as not applied (MAST0301), a key ProxyConfig does not have is unknown (MAST0001).
 */
function checkDefaultConfig(o: KubeObject, value: unknown): Finding[] {
  const at = 'data.mesh.defaultConfig';
  if (value === undefined) return [];
  if (!isPlainObject(value)) return [finding('MAST0002', o, at, 'defaultConfig is a mapping of ProxyConfig fields')];
  const out: Finding[] = [];
  const notApplied = (path: string, why?: string) =>
    out.push(finding('MAST0301', o, `${at}.${path}`, `ProxyConfig ${path} is not applied by mast${why ? `: ${why}` : ''}`));
  for (const [key, v] of Object.entries(value)) {
    if (key === 'meshId') continue;
    if (key === 'tracing' && isPlainObject(v)) {
      for (const [k, inner] of Object.entries(v)) {
        if (k === 'sampling') continue;
        // Istio reads ProxyConfig as protobuf JSON: both spellings of a field (the tracing task writes snake_case).
        if (k === 'maxPathTagLength' || k === 'max_path_tag_length') {
          if (typeof inner !== 'number' || !Number.isInteger(inner) || inner < 0)
            out.push(finding('MAST0132', o, `${at}.tracing.${k}`, `${k} is a whole number of characters, not ${JSON.stringify(inner)}`));
          continue;
        }
        if (k === 'customTags' || k === 'custom_tags') {
          for (const [name, tag] of Object.entries(isPlainObject(inner) ? inner : {})) {
            const kinds = isPlainObject(tag) ? (['literal', 'environment', 'header'] as const).filter((t) => tag[t] !== undefined) : [];
            if (kinds.length !== 1)
              out.push(
                finding(
                  'MAST0130',
                  o,
                  `${at}.tracing.${k}[${JSON.stringify(name)}]`,
                  'a custom tag is exactly one of literal, environment or header',
                ),
              );
          }
          continue;
        }
        notApplied(`tracing.${k}`, 'tracing follows extensionProviders and Telemetry');
      }
      continue;
    }
    if (key === 'gatewayTopology' && isPlainObject(v)) {
      for (const [k, inner] of Object.entries(v)) {
        if (k === 'numTrustedProxies') {
          if (typeof inner !== 'number' || !Number.isInteger(inner) || inner < 0)
            out.push(
              finding(
                'MAST0002',
                o,
                `${at}.gatewayTopology.numTrustedProxies`,
                `a whole number of proxies (0 or more), not ${JSON.stringify(inner)}`,
              ),
            );
        } else if (k === 'proxyProtocol') {
          if (!isPlainObject(inner))
            out.push(
              finding(
                'MAST0002',
                o,
                `${at}.gatewayTopology.proxyProtocol`,
                `a mapping (Istio's \`proxyProtocol: {}\`), not ${JSON.stringify(inner)}`,
              ),
            );
        } else if (k === 'forwardClientCertDetails') {
          if (inner !== 'UNDEFINED' && !FORWARD_CLIENT_CERT_DETAILS.includes(inner as ForwardClientCertDetails))
            out.push(
              finding(
                'MAST0002',
                o,
                `${at}.gatewayTopology.forwardClientCertDetails`,
                `one of ${FORWARD_CLIENT_CERT_DETAILS.join(', ')}, not ${JSON.stringify(inner)}`,
              ),
            );
        } else out.push(finding('MAST0001', o, `${at}.gatewayTopology.${k}`, `"${k}" is not a gatewayTopology field`));
      }
      continue;
    }
    if (PROXY_CONFIG_FIELDS.includes(key)) notApplied(key, PROXY_CONFIG_INSTEAD[key]);
    else {
      const near = PROXY_CONFIG_FIELDS.find((k) => k.toLowerCase() === key.toLowerCase().replace(/_(\w)/g, (_, c: string) => c));
      out.push(finding('MAST0001', o, `${at}.${key}`, `"${key}" is not a ProxyConfig field${near ? ` (did you mean "${near}"?)` : ''}`));
    }
  }
  return out;
}

function checkFields(o: KubeObject, mesh: Record<string, unknown>, at: string): Finding[] {
  const out: Finding[] = [];
  const appliedPart: Record<string, unknown> = Object.fromEntries(Object.entries(mesh).filter(([k]) => k in applied.fields));
  // Istio's fields that mast does not apply inside them: named below, not reported as unknown.
  for (const [field, inner] of Object.entries(NOT_APPLIED_INSIDE)) {
    const value = appliedPart[field];
    if (!isPlainObject(value)) continue;
    appliedPart[field] = Object.fromEntries(Object.entries(value).filter(([k]) => !(k in inner)));
    for (const k of Object.keys(value)) if (k in inner) out.push(finding('MAST0301', o, `${at}.${field}.${k}`, inner[k]));
  }
  for (const s of checkShape(applied, appliedPart, at)) out.push(finding(s.code, o, s.path, s.message));
  for (const [key, value] of Object.entries(mesh)) {
    if (key in applied.fields || CHECKED_ELSEWHERE.includes(key)) continue;
    const known = NOT_APPLIED[key];
    if (!known) {
      const near = KNOWN.find((k) => k.toLowerCase() === key.toLowerCase().replace(/_(\w)/g, (_, c: string) => c));
      out.push(finding('MAST0001', o, `${at}.${key}`, `"${key}" is not a MeshConfig field${near ? ` (did you mean "${near}"?)` : ''}`));
      continue;
    }
    if (known.matches !== undefined && JSON.stringify(known.matches) === JSON.stringify(value)) continue;
    out.push(
      finding('MAST0301', o, `${at}.${key}`, `MeshConfig ${key} is not applied by mast${known.instead ? `: ${known.instead}` : ''}`),
    );
  }
  return out;
}
