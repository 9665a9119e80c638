/**
 * The parts of Istio's MeshConfig that mast applies, read where Istio keeps it: the `mesh` key
 * of the `istio` ConfigMap in the root namespace (what `meshConfig` in an IstioOperator or the
 * Helm values becomes): `pathNormalization.normalization`, which the proxies get in their config,
 * and `h2UpgradePolicy`, `outboundTrafficPolicy.mode` and `localityLbSetting`, which the compiler
 * applies to clusters and to sidecars' outbound listeners; `defaultConfig.gatewayTopology.numTrustedProxies`,
 * which `mast local` starts its gateways with (with the rest of gatewayTopology, as flags); `trustDomain` and `trustDomainAliases`,
 * the bundle AuthorizationPolicy principals are compiled with (trust-domain.ts). A value mast does not know leaves Istio's
 * default (BASE, the normalization that fails closed; no upgrade; ALLOW_ANY; locality LB enabled; 0 hops),
 * and is a finding of api/mesh-config.ts.
 */
import { parse } from 'yaml';
import { PATH_NORMALIZATIONS, type PathNormalization } from '../contract/proxy-config';
import {
  checkShape,
  DEFAULT_TRUST_DOMAIN,
  type GatewayTopology,
  gatewayTopologyOf,
  isMeshConfigMap,
  isPlainObject,
  localityLbSetting,
  MESH_CONFIGMAP,
  ROOT_NAMESPACES,
  trustDomainProblem,
  type KubeObject,
  type LocalityLbSetting,
} from '../../api';
import type { TrustDomainBundle } from './trust-domain';

export { MESH_CONFIGMAP };

/** What every ProxyConfig of the snapshot carries (spread into it). */
export interface MeshSettings {
  /** Absent: BASE (Istio's DEFAULT). */
  readonly pathNormalization?: PathNormalization;
  /** `meshMTLS.minProtocolVersion: TLSV1_3`; absent: TLS 1.2 and up (TLS_AUTO, TLSV1_2). */
  readonly meshTlsMinVersion?: 'TLSv1.3';
}

/** What the compiler itself applies. */
export interface MeshCompileSettings {
  /** Istio's mesh-wide `h2UpgradePolicy: UPGRADE`: HTTP/1.1 ports' clusters go HTTP/2 unless a DestinationRule says otherwise. */
  readonly h2Upgrade: boolean;
  /** Istio's mesh-wide `outboundTrafficPolicy.mode` (default ALLOW_ANY); a Sidecar's own overrides it (sidecar-scope.ts). */
  readonly outboundTrafficPolicy: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  /**
   * Istio's mesh-wide `localityLbSetting`, for clusters whose DestinationRule sets none (locality.ts):
   * Istio's default `{ enabled: true }` when the mesh config is silent; absent when it says `enabled: false`.
   */
  readonly localityLb?: LocalityLbSetting;
  /** The trust domain certificates are signed in, then the mesh config's `trustDomainAliases` (trust-domain.ts). */
  readonly trustDomains: TrustDomainBundle;
}

/** Istio's default mesh config enables locality load balancing (it acts once a DestinationRule has outlier detection). */
export const DEFAULT_LOCALITY_LB: LocalityLbSetting = { enabled: true };

/** Where the mesh config is: the first root namespace's `istio` ConfigMap holding a `mesh` text (its index; -1 when none). */
export function meshConfigMapIndex(objects: readonly KubeObject[]): number {
  for (const ns of ROOT_NAMESPACES) {
    const i = objects.findIndex(
      (o) => isMeshConfigMap(o) && o.metadata?.namespace === ns && typeof (o as { data?: Record<string, unknown> }).data?.mesh === 'string',
    );
    if (i >= 0) return i;
  }
  return -1;
}

/** The mesh config, parsed; undefined when absent or not YAML. */
export function meshConfigOf(objects: readonly KubeObject[]): Record<string, unknown> | undefined {
  const i = meshConfigMapIndex(objects);
  if (i < 0) return undefined;
  try {
    const mesh: unknown = parse((objects[i] as { data?: { mesh?: string } }).data?.mesh ?? '');
    return isPlainObject(mesh) ? mesh : undefined;
  } catch {
    return undefined;
  }
}

/** Read once per snapshot (MeshIndex.meshSettings). */
export function readMeshSettings(objects: readonly KubeObject[]): MeshSettings {
  const mesh = meshConfigOf(objects) as
    | { pathNormalization?: { normalization?: unknown }; meshMTLS?: { minProtocolVersion?: unknown } }
    | undefined;
  const n = mesh?.pathNormalization?.normalization;
  // Istio's DEFAULT means BASE; omitting the field keeps ProxyConfig unchanged for the default.
  const path =
    typeof n === 'string' && n !== 'BASE' && n !== 'DEFAULT' && (PATH_NORMALIZATIONS as readonly string[]).includes(n)
      ? { pathNormalization: n as PathNormalization }
      : {};
  const tls13 = mesh?.meshMTLS?.minProtocolVersion === 'TLSV1_3' ? { meshTlsMinVersion: 'TLSv1.3' as const } : {};
  return { ...path, ...tls13 };
}

/** Read once per snapshot (MeshIndex.meshCompile). Istio's enum: DO_NOT_UPGRADE (its default) or UPGRADE. */
export function readMeshCompileSettings(objects: readonly KubeObject[], trustDomain?: string): MeshCompileSettings {
  const mesh = meshConfigOf(objects);
  const outbound = (mesh?.outboundTrafficPolicy as { mode?: unknown } | undefined)?.mode;
  return {
    h2Upgrade: mesh?.h2UpgradePolicy === 'UPGRADE',
    outboundTrafficPolicy: outbound === 'REGISTRY_ONLY' ? 'REGISTRY_ONLY' : 'ALLOW_ANY',
    ...meshLocality(mesh?.localityLbSetting),
    trustDomains: [trustDomain ?? readTrustDomain(objects), ...trustDomainAliases(mesh?.trustDomainAliases)],
  };
}

/** The mesh config's `trustDomain` (what `mast local` signs in; mastd's own flag in a cluster); cluster.local when absent or invalid (MAST0138). */
export function readTrustDomain(objects: readonly KubeObject[]): string {
  const td = meshConfigOf(objects)?.trustDomain;
  return typeof td === 'string' && !trustDomainProblem(td) ? td : DEFAULT_TRUST_DOMAIN;
}

/** The aliases that are trust domains (the others are MAST0138 findings). */
function trustDomainAliases(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((a): a is string => typeof a === 'string' && !trustDomainProblem(a)) : [];
}

/** A setting of the wrong shape (reported by validation, MAST0135) leaves Istio's default. */
function meshLocality(value: unknown): { localityLb?: LocalityLbSetting } {
  if (value === undefined || checkShape(localityLbSetting, value, '').some((s) => s.code !== 'MAST0001'))
    return { localityLb: DEFAULT_LOCALITY_LB };
  const setting = value as LocalityLbSetting;
  return setting.enabled === false ? {} : { localityLb: setting };
}

/** The mesh config's `defaultConfig.gatewayTopology` (what a gateway reads when it starts: its flags). */
export function readGatewayTopology(objects: readonly KubeObject[]): GatewayTopology {
  return gatewayTopologyOf(meshConfigOf(objects));
}
