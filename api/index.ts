/** The mesh API: types, schemas, loading and validation. Imports nothing else from the project. */
export * from './schema';
export * from './resources';
export * from './findings';
export * from './hosts';
export * from './duration';
export * from './tokens';
export * from './load';
export * from './load-files';
export * from './source';
export * from './registry';
export * from './crd';
export { checkShape, isPlainObject } from './shape';
export * from './visibility';
export { rulesForHost } from './rule-index';
export { locateFindings, validate, validateResource, validateSet, type ValidateOptions } from './validate';
export { ROOT_NAMESPACES } from './validate/policies';
export { mtlsModeAt, peerAuthenticationChain, type MtlsMode } from './peer-authentication';
export { isMeshConfigMap, MESH_CONFIG_KEY, meshConfigFindings, type MeshConfig } from './mesh-config';
export {
  FORWARD_CLIENT_CERT_DETAILS,
  type ForwardClientCertDetails,
  type GatewayTopology,
  gatewayTopologyFlags,
  gatewayTopologyOf,
} from './gateway-topology';
export type { GatewaySpec, GatewayServer, ServerTlsSettings } from './gateway';
export type { VirtualServiceSpec, HttpRoute, HttpMatchRequest, HttpRouteDestination, StringMatch } from './virtual-service';
export type { ClientTlsSettings, DestinationRuleSpec, TrafficPolicy, Subset } from './destination-rule';
export { clientTlsSettings } from './destination-rule';
export type { ServiceEntrySpec, WorkloadEntrySpec } from './service-entry';
export type { PeerAuthenticationSpec, AuthorizationPolicySpec, AuthorizationRule } from './security';
export type { RequestAuthenticationSpec, JwtRule } from './request-authentication';
export { importsHost, parseHostImport, type HostImport, type OutboundTrafficPolicyMode, type SidecarSpec } from './sidecar';
export {
  isTelemetry,
  telemetryCrd,
  telemetryCrdSpec,
  TELEMETRY_GROUP,
  TELEMETRY_VERSIONS,
  type Telemetry,
  type TelemetrySpec,
  type TelemetryTracing,
  type CustomTag,
} from './telemetry';
export {
  BUILTIN_METRICS_PROVIDER,
  ISTIO_METRIC_NAMES,
  type IstioMetricName,
  prometheusProviders,
  type TelemetryMetrics,
} from './telemetry-metrics';
export * from './well-known';
export * from './protocol';
export * from './locality';
export { DEFAULT_TRUST_DOMAIN, trustDomainProblem } from './trust-domain';
export * from './grpc-status';
export { DRY_RUN_ANNOTATION, isDryRun } from './dry-run';
export * from './access-log-format';
export {
  ACCESS_LOG_PROVIDER_KINDS,
  BUILTIN_ACCESS_LOG_PROVIDER,
  celLibrary,
  celProblem,
  meshFormatProblem,
  OTEL_DEFAULT_LOG_NAME,
  type TelemetryAccessLogging,
} from './access-log';
