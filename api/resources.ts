/** The resource kinds of the mesh API: groups, versions and their spec schemas. */
import { gatewaySpec, type GatewaySpec } from './gateway';
import { virtualServiceSpec, type VirtualServiceSpec } from './virtual-service';
import { destinationRuleSpec, type DestinationRuleSpec } from './destination-rule';
import { serviceEntrySpec, workloadEntrySpec, type ServiceEntrySpec, type WorkloadEntrySpec } from './service-entry';
import { authorizationPolicySpec, peerAuthenticationSpec, type AuthorizationPolicySpec, type PeerAuthenticationSpec } from './security';
import { requestAuthenticationSpec, type RequestAuthenticationSpec } from './request-authentication';
import { sidecarSpec, type SidecarSpec } from './sidecar';
import type { ObjectSchema } from './schema';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [field: string]: unknown;
}

export interface MeshResource<K extends string, S> {
  apiVersion: string;
  kind: K;
  metadata: ObjectMeta;
  spec: S;
}

export type Gateway = MeshResource<'Gateway', GatewaySpec>;
export type VirtualService = MeshResource<'VirtualService', VirtualServiceSpec>;
export type DestinationRule = MeshResource<'DestinationRule', DestinationRuleSpec>;
export type ServiceEntry = MeshResource<'ServiceEntry', ServiceEntrySpec>;
export type WorkloadEntry = MeshResource<'WorkloadEntry', WorkloadEntrySpec>;
export type PeerAuthentication = MeshResource<'PeerAuthentication', PeerAuthenticationSpec>;
export type AuthorizationPolicy = MeshResource<'AuthorizationPolicy', AuthorizationPolicySpec>;
export type RequestAuthentication = MeshResource<'RequestAuthentication', RequestAuthenticationSpec>;
export type Sidecar = MeshResource<'Sidecar', SidecarSpec>;
export type AnyMeshResource =
  | Gateway
  | VirtualService
  | DestinationRule
  | ServiceEntry
  | WorkloadEntry
  | PeerAuthentication
  | AuthorizationPolicy
  | RequestAuthentication
  | Sidecar;
export type MeshKind = AnyMeshResource['kind'];

/** Any Kubernetes object in an input set (Services, Pods... act as the registry). */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export interface KindInfo {
  readonly group: 'networking.istio.io' | 'security.istio.io';
  readonly plural: string;
  readonly shortNames: readonly string[];
  readonly spec: ObjectSchema;
  readonly doc: string;
}

/** The storage version; the others are served with the same schema so existing Istio YAML applies. */
export const STORAGE_VERSION = 'v1';
export const SERVED_VERSIONS = ['v1', 'v1beta1', 'v1alpha3'] as const;
/** Istio serves security.istio.io at v1 and v1beta1 only (its CRDs); networking.istio.io at v1alpha3 too. */
const SECURITY_VERSIONS = ['v1', 'v1beta1'] as const;

/** The versions a kind is served at, as Istio's CRD serves it. */
export function servedVersions(kind: MeshKind): readonly string[] {
  return KINDS[kind].group === 'security.istio.io' ? SECURITY_VERSIONS : SERVED_VERSIONS;
}

export const KINDS: Record<MeshKind, KindInfo> = {
  Gateway: {
    group: 'networking.istio.io',
    plural: 'gateways',
    shortNames: ['gw'],
    spec: gatewaySpec,
    doc: 'Ports, hosts and TLS a gateway proxy serves.',
  },
  VirtualService: {
    group: 'networking.istio.io',
    plural: 'virtualservices',
    shortNames: ['vs'],
    spec: virtualServiceSpec,
    doc: 'Routing rules for hosts.',
  },
  DestinationRule: {
    group: 'networking.istio.io',
    plural: 'destinationrules',
    shortNames: ['dr'],
    spec: destinationRuleSpec,
    doc: 'Subsets and traffic policy for a host.',
  },
  ServiceEntry: {
    group: 'networking.istio.io',
    plural: 'serviceentries',
    shortNames: ['se'],
    spec: serviceEntrySpec,
    doc: 'Services added to the mesh registry.',
  },
  WorkloadEntry: {
    group: 'networking.istio.io',
    plural: 'workloadentries',
    shortNames: ['we'],
    spec: workloadEntrySpec,
    doc: 'A workload outside Kubernetes.',
  },
  PeerAuthentication: {
    group: 'security.istio.io',
    plural: 'peerauthentications',
    shortNames: ['pa'],
    spec: peerAuthenticationSpec,
    doc: 'mTLS mode for workloads.',
  },
  AuthorizationPolicy: {
    group: 'security.istio.io',
    plural: 'authorizationpolicies',
    shortNames: ['ap'],
    spec: authorizationPolicySpec,
    doc: 'Access control for workloads.',
  },
  RequestAuthentication: {
    group: 'security.istio.io',
    plural: 'requestauthentications',
    shortNames: ['ra'],
    spec: requestAuthenticationSpec,
    doc: 'JWTs workloads accept.',
  },
  Sidecar: {
    group: 'networking.istio.io',
    plural: 'sidecars',
    shortNames: [],
    spec: sidecarSpec,
    doc: 'What a workload sidecar imports, accepts and does with unknown hosts.',
  },
};

export const MESH_GROUPS: readonly string[] = ['networking.istio.io', 'security.istio.io'];

/**
 * Groups whose kinds configure traffic in a mesh (Kubernetes Gateway API, Ingress, Istio's
 * extensions) that mast does not read: such an object is ignored, and said so (MAST0012), never
 * in silence. `networking.k8s.io` only for Ingress: its NetworkPolicy is the cluster's, not a mesh rule.
 */
export const IGNORED_TRAFFIC_KINDS: ReadonlyArray<{
  readonly group: string;
  readonly kinds?: readonly string[];
  readonly instead: string;
}> = [
  { group: 'gateway.networking.k8s.io', instead: 'Gateway and VirtualService of networking.istio.io' },
  { group: 'gateway.networking.x-k8s.io', instead: 'Gateway and VirtualService of networking.istio.io' },
  { group: 'inference.networking.x-k8s.io', instead: 'VirtualService and DestinationRule of networking.istio.io' },
  { group: 'networking.k8s.io', kinds: ['Ingress', 'IngressClass'], instead: 'Gateway and VirtualService of networking.istio.io' },
  { group: 'extensions.istio.io', instead: 'nothing yet: mast-proxy runs no Wasm plugins' },
];

export function isMeshKind(kind: string): kind is MeshKind {
  return Object.hasOwn(KINDS, kind);
}

/** `networking.istio.io/v1` for a kind, at the storage version. */
export function apiVersionOf(kind: MeshKind): string {
  return `${KINDS[kind].group}/${STORAGE_VERSION}`;
}

/** True for objects of the mesh kinds (any served version). */
export function isMeshResource(value: unknown): value is AnyMeshResource {
  const obj = value as { apiVersion?: unknown; kind?: unknown };
  if (typeof obj?.kind !== 'string' || typeof obj.apiVersion !== 'string' || !isMeshKind(obj.kind)) return false;
  const [group, version] = obj.apiVersion.split('/');
  return group === KINDS[obj.kind].group && servedVersions(obj.kind).includes(version);
}
