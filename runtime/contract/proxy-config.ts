/**
 * ProxyConfig: the contract between mastd (which compiles it, one per proxy) and
 * mast-proxy (which runs it). Plain JSON, versioned; everything a request needs is
 * resolved here (clusters by name, durations in ms, percentages as fractions) so the
 * proxy does no YAML-shaped lookups per request.
 */

import type { ForwardClientCertDetails } from '../../api/gateway-topology';
import type { AuthzConfig } from './authz';
import type { JwtConfig } from './jwt';
import type { InboundService, WorkloadMetadata } from './workload-metadata';

export const PROXY_CONFIG_SCHEMA = 1;

export interface ProxyConfig {
  readonly schema: typeof PROXY_CONFIG_SCHEMA;
  /** Opaque version; the proxy ACKs or NACKs each one. */
  readonly version: string;
  readonly listeners: ListenerConfig[];
  readonly clusters: ClusterConfig[];
  /**
   * Istio's mesh-wide `pathNormalization.normalization` (mesh config): how request paths are
   * normalized before routing and authorization (and sent upstream so). Absent: BASE, Istio's default.
   */
  readonly pathNormalization?: PathNormalization;
  /**
   * Istio's mesh-wide `meshMTLS.minProtocolVersion: TLSV1_3`: the workload mTLS (inbound and to peer
   * sidecars) refuses TLS 1.2. Absent: TLS 1.2 and 1.3, Istio's default.
   */
  readonly meshTlsMinVersion?: (typeof MESH_TLS_MIN_VERSIONS)[number];
  /** Spans of this proxy's requests (Telemetry `tracing` and MeshConfig's providers); absent: no spans, trace headers passed on untouched. */
  readonly tracing?: TracingConfig;
  /**
   * A sidecar's peers as the metrics name them (`source_workload`, `source_app`...): one entry per
   * identity (workloads sharing one merged, mergeMetadata), looked up by the verified identity of
   * each mTLS client on its inbound. Absent: every peer is `unknown`.
   */
  readonly workloads?: readonly WorkloadMetadata[];
  /** A sidecar's services (those selecting its workload): the inbound side's `destination_service`. */
  readonly inboundServices?: readonly InboundService[];
  /**
   * The access logs the mesh config (`accessLogFile`...) and Telemetry `accessLogging` give this proxy.
   * Absent: neither says anything, and mast-proxy's `--access-log` flag applies; present (even empty:
   * logging disabled), it replaces the flag's log.
   */
  readonly accessLogs?: AccessLogsConfig;
  /**
   * Istio's standard metrics as Telemetry `metrics` (and the mesh config's `defaultProviders.metrics`)
   * change them for this proxy, by side. Absent: reported as they are.
   */
  readonly metrics?: MetricsConfig;
}

/** A proxy's metrics by side (SERVER: a sidecar's inbound; CLIENT: its outbound, and a gateway's requests). */
export interface MetricsConfig {
  readonly server: SideMetricsConfig;
  readonly client: SideMetricsConfig;
}

/** One side's metrics: none at all, or the standard ones with these overrides. */
export interface SideMetricsConfig {
  /** No Istio metric on this side (`ALL_METRICS` disabled, or no Prometheus provider in scope). */
  readonly disabled?: boolean;
  /** Per standard metric (Telemetry's names: `REQUEST_COUNT`...), sorted by name. */
  readonly overrides?: readonly MetricOverrideConfig[];
}

export interface MetricOverrideConfig {
  readonly metric: string;
  /** Not reported. */
  readonly disabled?: boolean;
  /** Labels removed (`value` absent) or set to a CEL expression's value, sorted by name. */
  readonly tags?: ReadonlyArray<{ readonly name: string; readonly value?: string }>;
}

/** A proxy's access logs by side, as Istio's listener classes: each request is written to each log of its side. */
export interface AccessLogsConfig {
  /** Requests a sidecar's inbound received (Telemetry `match.mode: SERVER`). */
  readonly server: readonly AccessLogConfig[];
  /** Requests a sidecar sent out, and every request of a gateway (`match.mode: CLIENT`, as Istio classes gateways). */
  readonly client: readonly AccessLogConfig[];
}

/** One access log: an Envoy file access log, or (with `otlp`) Envoy's OpenTelemetry access logger. */
export interface AccessLogConfig {
  /** The provider it comes from: `envoy` (built in), an extension provider, or `accessLogFile` (the mesh config's). */
  readonly provider: string;
  /** `/dev/stdout`, `/dev/stderr` (the proxy's own streams) or a file appended to; unused with `otlp`. */
  readonly path: string;
  /**
   * Envoy's format: a format string of command operators, or JSON labels (key → format string, nested
   * objects). With `otlp`, a text format: each record's body, written as given (no newline added).
   */
  readonly format: { readonly text: string } | { readonly json: Readonly<Record<string, unknown>> };
  /** Only requests for which this CEL expression is true are written (Telemetry `filter.expression`). */
  readonly filter?: string;
  /** Records sent to an OTLP/gRPC collector instead of lines to `path` (an `envoyOtelAls` provider). */
  readonly otlp?: OtlpAccessLogConfig;
}

/** An `envoyOtelAls` provider as the proxy needs it: where its collector is, and each record's attributes. */
export interface OtlpAccessLogConfig {
  /** The collector (the provider's `service`, its host part) and its OTLP/gRPC port. */
  readonly host: string;
  readonly port: number;
  /** The calls' `:authority` (the provider's service host, when `host` is its endpoint). @default host */
  readonly authority?: string;
  /** The provider's `logName` (Istio's default `otel_envoy_accesslog`); Istio turns off the labels that would carry it. */
  readonly logName: string;
  /** Attribute name → format string (the provider's `logFormat.labels`), each record's attributes in name order. */
  readonly attributes?: Readonly<Record<string, string>>;
}

/**
 * Tracing as Istio configures Envoy's OpenTelemetry or Zipkin tracer: a span per request, W3C and B3
 * context propagated, sampled spans exported in batches over OTLP/HTTP (JSON), OTLP/gRPC or Zipkin's
 * v2 JSON API.
 */
export interface TracingConfig {
  /** Requests that arrive without a sampling decision are sampled at this percentage (0–100). */
  readonly samplingPercent: number;
  /**
   * Where sampled spans go (the mesh's `opentelemetry` extension provider): an OTLP/HTTP endpoint
   * (`path` the URL's path), or with `protocol: 'grpc'` (a provider without `http`, as Istio) an
   * OTLP/gRPC collector (`path` the method), or with `protocol: 'zipkin'` (a `zipkin` provider) a
   * Zipkin collector taking v2 JSON at `path` (`/api/v2/spans`). Absent: spans are made and propagated,
   * not reported (mastd always sets it: a `disableSpanReporting` side is not traced at all).
   */
  readonly collector?: {
    readonly host: string;
    readonly port: number;
    readonly path: string;
    readonly protocol?: 'http' | 'grpc' | 'zipkin';
    /** The gRPC calls' `:authority` (the provider's service host, when `host` is its endpoint). @default host */
    readonly authority?: string;
  };
  /** The `service.name` resource attribute: Istio's service cluster, `<app>.<namespace>`. */
  readonly serviceName: string;
  /** Tags on every span beside Envoy's own: Istio's `istio.*` literals and Telemetry `customTags`. */
  readonly tags: readonly TracingTag[];
  /** A sidecar's inbound span name by app port (`<service host>:<port>/*`); `*`: any other port. */
  readonly inboundOperations?: Readonly<Record<string, string>>;
  /** The `node_id` tag. */
  readonly nodeId?: string;
  /** `http.url` is cut to this many characters (Envoy's max_path_tag_length). @default 256 */
  readonly maxPathTagLength?: number;
  /**
   * Only this side's requests are traced (Telemetry `match.mode`): CLIENT, a sidecar's outbound and a
   * gateway's; SERVER, a sidecar's inbound. The other side makes no span and passes trace headers on
   * untouched, as Envoy's connection manager without tracing. @default both
   */
  readonly only?: 'CLIENT' | 'SERVER';
  /** The server side's (a sidecar's inbound) sampling and tags, where Telemetry `match.mode` entries make them differ from the rest's. */
  readonly server?: { readonly samplingPercent: number; readonly tags: readonly TracingTag[] };
  /** New traces get 64-bit ids (a `zipkin` provider's `enable64bitTraceId`), carried as 128-bit with the high half zero. @default false */
  readonly traceId64?: boolean;
  /**
   * Envoy's Zipkin tracer's context (a `zipkin` provider's `traceContextOption`): `B3` (USE_B3, its
   * default) reads and writes B3 only, a W3C `traceparent` passed on untouched; `B3_AND_W3C`
   * (USE_B3_WITH_W3C_PROPAGATION) writes both. Either way the `x-b3-*` headers go upstream on every
   * request. @default W3C, and B3 in the form the client used (Envoy's OpenTelemetry tracer)
   */
  readonly b3?: 'B3' | 'B3_AND_W3C';
}

/** A span tag: a literal, the proxy's environment variable, or a request header (with a default when absent). */
export type TracingTag =
  | { readonly name: string; readonly literal: string }
  | { readonly name: string; readonly environment: string; readonly defaultValue?: string }
  | { readonly name: string; readonly header: string; readonly defaultValue?: string };

/** Istio `MeshConfig.ProxyPathNormalization.NormalizationType` (its DEFAULT is BASE). */
export type PathNormalization = 'NONE' | 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES';
export const PATH_NORMALIZATIONS: readonly PathNormalization[] = ['NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'];

/**
 * A gateway server's certificate: PEM files on the gateway's disk, or a `credentialName` Secret
 * mounted in the gateway's credentials directory (never sent over mastd's stream); until its files
 * are there the server is not served, never in plaintext.
 */
export interface ServerTlsConfig {
  readonly certificateFile?: string;
  readonly keyFile?: string;
  readonly credentialName?: string;
  /**
   * MUTUAL: clients must present a certificate that chains to the CAs (`caCertificates`, or the
   * credential's); OPTIONAL_MUTUAL: one presented must, none is allowed; ISTIO_MUTUAL: the proxy's
   * own workload certificate, and clients must present one the mesh root signed (a sidecar whose
   * DestinationRule says ISTIO_MUTUAL), no files. Absent: SIMPLE.
   */
  readonly mode?: 'SIMPLE' | 'MUTUAL' | 'OPTIONAL_MUTUAL' | 'ISTIO_MUTUAL';
  readonly caFile?: string;
}

/** One terminated Gateway server on a shared port (see `ListenerConfig.tlsServers`). */
export interface TlsServerConfig {
  /** Istio's route name for the server: `https.<port>.<port name>.<gateway>.<namespace>`. */
  readonly name: string;
  /**
   * Envoy's `server_names`, lower case: exact names and `*.` wildcards (the longest suffix wins);
   * empty: every name, and a client that sends none (a server for `*`).
   */
  readonly serverNames: string[];
  readonly tls: ServerTlsConfig;
  readonly virtualHosts: VirtualHostConfig[];
}

export interface ListenerConfig {
  readonly name: string;
  /** Port the proxy binds. */
  readonly port: number;
  /** Port the route matches see (a Gateway server's number; differs from `port` behind a Service). */
  readonly matchPort: number;
  readonly address?: string;
  readonly protocol: 'http' | 'tcp';
  /**
   * A sidecar's listener, as Envoy's `traffic_direction`: OUTBOUND takes what the app sends out,
   * INBOUND what comes in for the app (both captured by iptables: the original destination is read).
   * Absent: neither (a gateway's listener).
   */
  readonly trafficDirection?: 'INBOUND' | 'OUTBOUND';
  /** HTTP: virtual hosts, first whose domains match the Host header wins (exact before wildcard). */
  readonly virtualHosts?: VirtualHostConfig[];
  /**
   * A sidecar's outbound (Istio's default `outboundTrafficPolicy: ALLOW_ANY`): a captured
   * connection to a port no listener config knows goes on, as TCP, to its original destination.
   */
  readonly passthrough?: boolean;
  /**
   * A sidecar's outbound under `outboundTrafficPolicy: REGISTRY_ONLY` (mesh-wide or its Sidecar's):
   * a request for a host no route knows is answered 502 (Istio's `block_all` route), a captured
   * connection to a port no listener config knows is reset (its BlackHoleCluster).
   */
  readonly blackHole?: boolean;
  /**
   * HTTPS termination for every server name (and none): one certificate for the whole port. The
   * compiler writes `tlsServers` instead; this form stays for a hand-written config (`--config`).
   */
  readonly tls?: ServerTlsConfig;
  /**
   * A gateway port's terminated servers (Gateway `tls.mode` SIMPLE, MUTUAL, OPTIONAL_MUTUAL), each
   * Envoy's filter chain: chosen by the ClientHello's server name, with its own certificate, client
   * verification and virtual hosts (a request over it for a host of another server is a 404).
   */
  readonly tlsServers?: TlsServerConfig[];
  /**
   * A gateway's TLS PASSTHROUGH servers, or a sidecar's TLS destination port: each connection goes
   * by the server name in its ClientHello (the VirtualService `tls` route whose `sniHosts` match it
   * most narrowly, beside `tlsServers` on the same port), TLS untouched; no match closes it at a
   * gateway, and meets the outbound traffic policy at a sidecar. At a sidecar, a route without
   * destinations (a wildcard ServiceEntry host) sends the connection to its original destination.
   */
  readonly sniRoutes?: Array<{ readonly sniHosts: string[]; readonly destinations: WeightedCluster[] }>;
  /** Gateway `tls.httpsRedirect`: every request is answered 301 to https. */
  readonly httpsRedirect?: boolean;
  /** TCP: where each connection goes (weighted, as a VirtualService `tcp` route). */
  readonly tcpDestinations?: WeightedCluster[];
  /** Expect a PROXY protocol v2 header on every connection. */
  readonly proxyProtocol?: boolean;
  /** AuthorizationPolicies that apply here (gateway listeners, a sidecar's inbound); absent: none. */
  readonly authz?: AuthzConfig;
  /** RequestAuthentications that apply here: JWTs verified before authorization; absent: none. */
  readonly jwt?: JwtConfig;
  /**
   * A sidecar's inbound, from PeerAuthentication: STRICT takes only mTLS, PERMISSIVE (the
   * default) both (told apart by the first byte), DISABLE only plaintext.
   */
  readonly mtls?: 'STRICT' | 'PERMISSIVE' | 'DISABLE';
  /** A pod's inbound: PeerAuthentication `portLevelMtls`, by the port each connection was sent to (overrides `mtls`). */
  readonly mtlsByPort?: Readonly<Record<string, 'STRICT' | 'PERMISSIVE' | 'DISABLE'>>;
  /**
   * The x-forwarded-client-cert header, as Envoy's `forward_client_cert_details`: a gateway's from
   * its `gatewayTopology.forwardClientCertDetails` (default SANITIZE_SET, with the client's
   * certificate as `Cert`), a sidecar's inbound APPEND_FORWARD. Absent: SANITIZE (never sent on).
   */
  readonly forwardClientCert?: { readonly mode: ForwardClientCertDetails; readonly cert?: boolean };
  /**
   * Envoy's grpc_web filter, which Istio adds to the listeners of GRPC-WEB ports only: gRPC-Web
   * requests go upstream as gRPC and their responses back as gRPC-Web (proxy/h2/grpc-web.ts).
   * `true`: every request here; a list: a pod's inbound, requests whose connection's original
   * destination port is listed.
   */
  readonly grpcWeb?: true | readonly number[];
}

export interface VirtualHostConfig {
  readonly name: string;
  /** Lowercase hosts without port: exact names, `*.suffix` wildcards, or `*`. */
  readonly domains: string[];
  readonly routes: RouteConfig[];
}

export type StringMatchConfig =
  | { readonly exact: string }
  | { readonly prefix: string }
  | { readonly regex: string }
  | { readonly present: true };

export interface MatchConfig {
  readonly uri?: StringMatchConfig;
  readonly method?: StringMatchConfig;
  readonly authority?: StringMatchConfig;
  readonly scheme?: StringMatchConfig;
  /** Lowercase header names. */
  readonly headers?: Array<[string, StringMatchConfig]>;
  readonly withoutHeaders?: Array<[string, StringMatchConfig]>;
  readonly queryParams?: Array<[string, StringMatchConfig]>;
  readonly port?: number;
  readonly ignoreUriCase?: boolean;
}

export interface HeaderOpsConfig {
  readonly set?: Array<[string, string]>;
  readonly add?: Array<[string, string]>;
  readonly remove?: string[];
}

export interface WeightedCluster {
  readonly cluster: string;
  readonly weight: number;
  readonly requestHeaders?: HeaderOpsConfig;
  readonly responseHeaders?: HeaderOpsConfig;
}

export interface RetryConfig {
  readonly attempts: number;
  readonly perTryTimeoutMs?: number;
  readonly retryOn: string[];
  /**
   * A retry goes to another endpoint than those tried (Envoy's previous_hosts predicate, up to 5
   * picks), except under consistent hashing. @default true
   */
  readonly previousHosts?: boolean;
  /** Base of the jittered exponential back-off between attempts (at most 10 times it). @default 25 */
  readonly backoffBaseMs?: number;
}

export interface FaultConfig {
  readonly delay?: { readonly ms: number; readonly fraction: number };
  /**
   * `grpcStatus` (a gRPC code, from Istio's `abort.grpcStatus` name): a gRPC request gets a gRPC reply with it
   * (HTTP 200, the code in `grpc-status`); `status` is what any other request gets.
   */
  readonly abort?: { readonly status: number; readonly grpcStatus?: number; readonly fraction: number };
}

export interface CorsConfig {
  readonly allowOrigins: StringMatchConfig[];
  readonly allowMethods?: string[];
  readonly allowHeaders?: string[];
  readonly exposeHeaders?: string[];
  readonly maxAgeSeconds?: number;
  readonly allowCredentials?: boolean;
}

export type RouteAction =
  | {
      readonly kind: 'forward';
      readonly destinations: WeightedCluster[];
      readonly timeoutMs?: number;
      readonly retries?: RetryConfig;
      /** `uriRegex`: every match of `pattern` (RE2) in the path replaced by `replacement` (RE2's rewrite syntax: `\1` for a group), as Istio's uriRegexRewrite. */
      readonly rewrite?: {
        readonly uriPrefix?: string;
        readonly uri?: string;
        readonly authority?: string;
        readonly uriRegex?: { readonly pattern: string; readonly replacement: string };
      };
      readonly mirrors?: Array<{ readonly cluster: string; readonly fraction: number }>;
    }
  | {
      readonly kind: 'redirect';
      readonly uri?: string;
      readonly authority?: string;
      readonly scheme?: string;
      readonly port?: number;
      readonly status: number;
    }
  | { readonly kind: 'direct'; readonly status: number; readonly body?: string };

export interface RouteConfig {
  readonly name: string;
  /** Any of these (OR); empty means every request. */
  readonly matches: MatchConfig[];
  readonly action: RouteAction;
  readonly requestHeaders?: HeaderOpsConfig;
  readonly responseHeaders?: HeaderOpsConfig;
  readonly fault?: FaultConfig;
  readonly cors?: CorsConfig;
}

export type LbPolicy =
  | { readonly kind: 'least_request' }
  | { readonly kind: 'round_robin' }
  | { readonly kind: 'random' }
  | { readonly kind: 'passthrough' }
  | {
      readonly kind: 'hash';
      readonly header?: string;
      readonly cookie?: string;
      /** httpCookie `ttl`: when set, a request without the cookie gets one generated (0: a session cookie). */
      readonly cookieTtlMs?: number;
      readonly cookiePath?: string;
      readonly sourceIp?: boolean;
      readonly queryParameter?: string;
    };

export interface EndpointConfig {
  readonly address: string;
  readonly port: number;
  readonly labels?: Record<string, string>;
  /** The workload behind the endpoint, when the registry knows it: the outbound side's `destination_*` labels. */
  readonly metadata?: WorkloadMetadata;
  /** Where it runs, `region/zone/subzone` (trailing parts may be missing); absent: unknown. */
  readonly locality?: string;
  /**
   * Its priority for this proxy (Envoy's): requests go to priority 0 while enough of it is healthy,
   * spilling to 1, 2... as its endpoints are ejected (locality failover). Absent: 0.
   */
  readonly priority?: number;
}

export interface ClusterConfig {
  /** `outbound|<port>|<subset>|<host>`, as Envoy names them. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly subset?: string;
  readonly endpoints: EndpointConfig[];
  readonly lb: LbPolicy;
  /**
   * A ServiceEntry with `resolution: NONE` and no endpoints (Envoy's ORIGINAL_DST, as Istio builds
   * it): each connection goes to the address and port it was sent to (captured traffic only).
   */
  readonly originalDestination?: boolean;
  readonly connectTimeoutMs: number;
  readonly maxConnections?: number;
  readonly maxPendingRequests?: number;
  readonly maxRequestsPerConnection?: number;
  readonly idleTimeoutMs?: number;
  /**
   * How requests go to the endpoints: `h2`, HTTP/2 (the port's protocol is gRPC or HTTP/2 by its name,
   * `appProtocol` or ServiceEntry `protocol`, or the DestinationRule says `h2UpgradePolicy: UPGRADE`);
   * `client`, the protocol the client used (`useClientProtocol`, or a sidecar's port of no declared protocol,
   * which Istio sniffs); absent, HTTP/1.1. Decided by the compiler as Istio does (docs/protocols.md).
   */
  readonly upstreamProtocol?: 'h2' | 'client';
  /**
   * A passthrough cluster (a sidecar's inbound in a pod: one cluster for every port of its app):
   * `upstreamProtocol` by the original destination port of each connection; a port not listed is HTTP/1.1.
   */
  readonly upstreamProtocolByPort?: Readonly<Record<number, 'h2' | 'client'>>;
  /** Requests in flight to the whole cluster, any protocol (Istio `http2MaxRequests`). @default unlimited */
  readonly maxRequests?: number;
  /** HTTP/2: streams in flight on one upstream connection (Istio `maxConcurrentStreams`). @default the server's SETTINGS */
  readonly maxConcurrentStreams?: number;
  /**
   * ISTIO_MUTUAL: always mTLS with the workload certificate; DISABLE: never; absent (auto, as
   * Istio): mTLS to endpoints labelled `security.istio.io/tlsMode: istio` (they have a sidecar).
   */
  readonly tls?: 'ISTIO_MUTUAL' | 'DISABLE';
  /** Over that mTLS, the server name sent (DestinationRule `tls.sni`: a gateway's ISTIO_MUTUAL server is chosen by it). @default none */
  readonly mtlsSni?: string;
  /**
   * Over that mTLS, the identities the server may present, as SPIFFE paths `ns/<namespace>/sa/<account>`
   * (the trust domain is the mesh root's): its endpoints' service accounts, as Istio checks a service's
   * SANs. Absent (no endpoint names one): any identity the mesh root signed.
   */
  readonly identities?: readonly string[];
  /**
   * DestinationRule `tls.mode: SIMPLE` or `MUTUAL`: the proxy opens TLS to every endpoint (TLS
   * origination), with these PEM files (paths on the proxy's filesystem) and this SNI; the
   * server certificate is verified against `caCertificates` (else the system roots) for
   * `subjectAltNames` (else the SNI), unless `insecureSkipVerify`.
   */
  readonly originate?: OriginateTls;
  /**
   * Outlier detection (Envoy's, as Istio configures it): connect failures, resets and timeouts count
   * as 503/504 towards both consecutive counts; at least one endpoint may always be ejected; below
   * `minHealthPercent` healthy endpoints the ejections are ignored (panic), 0 (Istio's default): never.
   */
  /**
   * Locality-weighted load balancing (Istio's `distribute` for this proxy's locality): each locality's
   * weight; a locality is picked by its weight times its share of healthy endpoints, then an endpoint
   * in it by `lb`. Absent: endpoints are picked as one set (within their priority).
   */
  readonly localityWeights?: Readonly<Record<string, number>>;
  readonly outlier?: {
    readonly consecutive5xx?: number;
    readonly consecutiveGatewayErrors?: number;
    readonly intervalMs: number;
    readonly baseEjectionMs: number;
    readonly maxEjectionPercent: number;
    readonly minHealthPercent?: number;
  };
}

export interface OriginateTls {
  readonly mode: 'SIMPLE' | 'MUTUAL';
  readonly sni: string;
  readonly caCertificates?: string;
  readonly clientCertificate?: string;
  readonly privateKey?: string;
  /**
   * DestinationRule `tls.credentialName`, applied (at a gateway; at a sidecar when the rule has a
   * workloadSelector): the Secret of that name mounted in the proxy's credentials directory gives the
   * client certificate (MUTUAL) and the CA (`cacert`/`ca.crt`, or the Secret `<name>-cacert`), in
   * place of the files. A Secret not there fails the connection, as Envoy's missing SDS secret does.
   */
  readonly credentialName?: string;
  readonly subjectAltNames?: readonly string[];
  readonly insecureSkipVerify?: boolean;
}

/** Istio's defaults where a rule is silent. */
/**
 * Istio's default when a route sets no retries: 2 attempts on connect failures (refused-stream,
 * unavailable and cancelled are HTTP/2 and gRPC conditions; retriable-status-codes lists no code,
 * so a 503 response is passed on, not retried), each to another endpoint.
 */
export const DEFAULT_RETRY: RetryConfig = {
  attempts: 2,
  retryOn: ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes'],
};
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export const TLS_MODE_LABEL = 'security.istio.io/tlsMode';

export function clusterName(port: number, subset: string | undefined, host: string): string {
  return `outbound|${port}|${subset ?? ''}|${host}`;
}

/** The order clusters are listed in a ProxyConfig: by name, by code point (cheaper than a locale compare on thousands). */
export const byClusterName = (a: { readonly name: string }, b: { readonly name: string }): number =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : 0;

/**
 * The cluster a sidecar sends requests for unknown hosts to, at their original destination (as
 * Envoy names it); the proxy makes it itself when a listener has `passthrough`.
 */
export const PASSTHROUGH_CLUSTER = 'PassthroughCluster';

/** The minimum workload mTLS versions a config may set (ProxyConfig.meshTlsMinVersion). */
export const MESH_TLS_MIN_VERSIONS = ['TLSv1.3'] as const;

export { FORWARD_CLIENT_CERT_DETAILS, type ForwardClientCertDetails } from '../../api/gateway-topology';

/** The gRPC methods of OTLP's collector services (opentelemetry-proto's collector/{logs,trace}/v1). */
export const OTLP_LOGS_EXPORT = '/opentelemetry.proto.collector.logs.v1.LogsService/Export';
export const OTLP_TRACES_EXPORT = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
