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
export { validate, validateResource, validateSet, type ValidateOptions } from './validate';
export type { GatewaySpec, GatewayServer, ServerTlsSettings } from './gateway';
export type { VirtualServiceSpec, HttpRoute, HttpMatchRequest, HttpRouteDestination, StringMatch } from './virtual-service';
export type { DestinationRuleSpec, TrafficPolicy, Subset } from './destination-rule';
export type { ServiceEntrySpec, WorkloadEntrySpec } from './service-entry';
export type { PeerAuthenticationSpec, AuthorizationPolicySpec, AuthorizationRule } from './security';
