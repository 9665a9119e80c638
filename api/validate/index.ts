/**
 * validate(): one pure function over a set of objects, in the spirit of
 * `istioctl analyze`. Per-resource rules (shape, routes, ports) run on every
 * mesh resource; set rules (references, conflicts, workloads) run on the set.
 */
import { CODES, finding, type Finding } from '../findings';
import {
  isMeshKind,
  isMeshResource,
  IGNORED_TRAFFIC_KINDS,
  KINDS,
  MESH_GROUPS,
  servedVersions,
  type AnyMeshResource,
  type KubeObject,
} from '../resources';
import { checkShape, isPlainObject } from '../shape';
import { buildRegistry } from '../registry';
import { withDefaults } from '../normalize';
import { sourceOf } from '../source';
import { checkVirtualService } from './http-route';
import { checkRuntimeSupport } from './runtime-support';
import { checkDestinationRule, checkGateway, checkServiceEntry } from './local';
import { checkDestinations, checkIngressSubsets } from './destinations';
import {
  checkConflictingGateways,
  checkCredentials,
  checkDuplicateCertificates,
  checkGatewayRefs,
  checkGatewayWorkloads,
  checkUnroutedGatewayHosts,
} from './gateways';
import { boundToMesh, checkMeshHostConflicts } from './conflicts';
import { checkMatches } from './matches';
import { checkOriginationCredentials } from './dr-credentials';
import { checkRequestAuthentication } from './request-authentication';
import { checkSidecar, checkSidecars } from './sidecar';
import { meshConfigFindings } from '../mesh-config';
import { telemetryFindings } from '../telemetry';
import { checkAccessLogProviders } from './access-log-providers';
import { checkMetricsProviders } from './metrics-providers';
import {
  checkAuthorizationPolicy,
  checkDestinationRuleHost,
  checkServiceEntryAddresses,
  checkServiceEntryProtocols,
  checkSubsetWorkloads,
  checkTlsVerification,
} from './policies';

export interface ValidateOptions {
  /** `resource`: only per-resource rules; `set`: only cross-resource rules; default both. */
  readonly scope?: 'resource' | 'set' | 'all';
  /** Assume mast's default ingress gateway exists when the input has none (as `istioctl analyze` does). @default false */
  readonly defaultIngressGateway?: boolean;
}

const DNS_1123 = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** Findings for one object alone: metadata, kind, field shapes and rules local to the resource. */
/** etcd's default limit on one stored object (1.5 MiB). */
export const MAX_RESOURCE_BYTES = 1_572_864;

/** Findings of frozen objects, by identity: a frozen object cannot change (mastd freezes what it ingests). */
const resourceFindings = new WeakMap<object, Finding[]>();

export function validateResource(obj: KubeObject): Finding[] {
  if (!Object.isFrozen(obj)) return checkResource(obj);
  let found = resourceFindings.get(obj);
  if (!found) resourceFindings.set(obj, (found = checkResource(obj)));
  return [...found];
}

function checkResource(obj: KubeObject): Finding[] {
  const out: Finding[] = [];
  const name = obj.metadata?.name;
  if (typeof name !== 'string' || !DNS_1123.test(name) || name.length > 253)
    out.push(finding('MAST0007', obj, 'metadata.name', `${JSON.stringify(name)} is not a valid name (lowercase DNS-1123)`));
  const ns = obj.metadata?.namespace;
  if (ns !== undefined && (typeof ns !== 'string' || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(ns)))
    out.push(finding('MAST0007', obj, 'metadata.namespace', `${JSON.stringify(ns)} is not a valid namespace`));
  const [group, version] = String(obj.apiVersion).split('/');
  // Telemetry and the mesh config's tracing parts (api/telemetry.ts): not among the mesh KINDS.
  const telemetry = telemetryFindings(obj) ?? meshConfigFindings(obj);
  if (telemetry) return [...out, ...telemetry];
  if (!MESH_GROUPS.includes(group)) return [...out, ...ignoredKind(obj, group)];
  if (!isMeshKind(obj.kind) || KINDS[obj.kind].group !== group) {
    out.push(
      finding(
        'MAST0006',
        obj,
        'kind',
        `${obj.kind} (${obj.apiVersion}) is not supported by mast; supported: ${Object.keys(KINDS).join(', ')}`,
      ),
    );
    return out;
  }
  if (!servedVersions(obj.kind).includes(version)) {
    out.push(finding('MAST0006', obj, 'apiVersion', `"${obj.apiVersion}" is not served; use ${group}/v1`));
    return out;
  }
  // Kubernetes stores no object over 1.5 MiB; a file source would otherwise push it to every proxy.
  const size = Buffer.byteLength(JSON.stringify(obj));
  if (size > MAX_RESOURCE_BYTES) {
    out.push(
      finding(
        'MAST0010',
        obj,
        'metadata',
        `the resource is ${size.toLocaleString('en-US')} bytes; Kubernetes stores at most ${MAX_RESOURCE_BYTES.toLocaleString('en-US')} per object`,
      ),
    );
    return out;
  }
  const shape = checkShape(KINDS[obj.kind].spec, obj.spec ?? {}, 'spec');
  for (const key of Object.keys(obj))
    if (!['apiVersion', 'kind', 'metadata', 'spec', 'status'].includes(key))
      shape.push({ code: 'MAST0001', path: key, message: `unknown top-level field "${key}"` });
  if (!isPlainObject(obj.spec)) shape.push({ code: 'MAST0003', path: 'spec', message: '"spec" is required' });
  out.push(...shape.map((s) => finding(s.code, obj, s.path, s.message)));
  if (shape.some((s) => CODES[s.code].severity === 'Error' && s.code !== 'MAST0001' && s.code !== 'MAST0106' && s.code !== 'MAST0105'))
    return out;
  out.push(...localRules(obj as unknown as AnyMeshResource), ...checkRuntimeSupport(obj as unknown as AnyMeshResource));
  return out;
}

/** MAST0012: a traffic kind of a group mast does not read is named as ignored. */
function ignoredKind(obj: KubeObject, group: string): Finding[] {
  const ignored = IGNORED_TRAFFIC_KINDS.find((g) => g.group === group && (!g.kinds || g.kinds.includes(obj.kind)));
  return ignored
    ? [finding('MAST0012', obj, 'kind', `${obj.kind} (${obj.apiVersion}) is not read by mast and is ignored; use ${ignored.instead}`)]
    : [];
}

function localRules(r: AnyMeshResource): Finding[] {
  switch (r.kind) {
    case 'VirtualService':
      return checkVirtualService(r);
    case 'Gateway':
      return checkGateway(r);
    case 'DestinationRule':
      return checkDestinationRule(r);
    case 'ServiceEntry':
      return checkServiceEntry(r);
    case 'RequestAuthentication':
      return checkRequestAuthentication(r);
    case 'Sidecar':
      return checkSidecar(r);
    default:
      return [];
  }
}

/** Mesh resources with their missing required fields filled (the same object identity is not kept). */
function normalized(obj: KubeObject): KubeObject {
  if (!isMeshResource(obj)) return obj;
  const cached = normalizedCache.get(obj);
  if (cached) return cached;
  const spec = withDefaults(KINDS[obj.kind].spec, obj.spec);
  const out = { ...obj, spec } as KubeObject;
  if (Object.isFrozen(obj)) normalizedCache.set(obj, out);
  return out;
}
const normalizedCache = new WeakMap<object, KubeObject>();

/** Findings across the set: duplicates, references, conflicts, workload selection. */
export function validateSet(objects: readonly KubeObject[], options: ValidateOptions = {}): Finding[] {
  const usable = objects.filter((o) => !validateResource(o).some(blocksSetRules)).map(normalized);
  const mesh: AnyMeshResource[] = (usable as unknown[]).filter(isMeshResource);
  const of = <K extends AnyMeshResource['kind']>(kind: K) =>
    mesh.filter((r): r is Extract<AnyMeshResource, { kind: K }> => r.kind === kind);
  const gateways = of('Gateway');
  const virtualServices = of('VirtualService');
  const destinationRules = of('DestinationRule');
  const serviceEntries = of('ServiceEntry');
  const registry = buildRegistry(usable, { defaultIngressGateway: options.defaultIngressGateway });
  const gatewayRoutes = virtualServices.filter((vs) => !boundToMesh(vs));
  return [
    ...duplicates(objects),
    ...virtualServices.flatMap((vs) => [
      ...checkGatewayRefs(vs, gateways),
      ...checkDestinations(vs, registry, destinationRules),
      ...checkMatches(vs),
    ]),
    ...checkIngressSubsets(gatewayRoutes, virtualServices.filter(boundToMesh)),
    ...checkMeshHostConflicts(virtualServices),
    ...gateways.flatMap((gw) => [
      ...checkGatewayWorkloads(gw, registry),
      ...checkCredentials(gw, registry),
      ...checkUnroutedGatewayHosts(gw, virtualServices),
    ]),
    ...checkConflictingGateways(gateways, registry),
    ...checkDuplicateCertificates(gateways),
    ...destinationRules.flatMap((dr) => [
      ...checkDestinationRuleHost(dr, registry),
      ...checkSubsetWorkloads(dr, registry),
      ...checkTlsVerification(dr),
      ...checkOriginationCredentials(dr, gateways, registry),
    ]),
    ...of('AuthorizationPolicy').flatMap((ap) => checkAuthorizationPolicy(ap, registry)),
    ...serviceEntries.flatMap(checkServiceEntryAddresses),
    ...checkServiceEntryProtocols(serviceEntries),
    ...checkSidecars(of('Sidecar'), registry, of('PeerAuthentication')),
    ...checkAccessLogProviders(usable),
    ...checkMetricsProviders(usable),
  ];
}

/**
 * Type errors make a resource unsafe to reason about; the set rules skip it. A missing
 * required field does not: set rules read every required field defensively, as Istio's
 * analyzers do with partial resources.
 */
const blocksSetRules = (f: Finding): boolean => ['MAST0002', 'MAST0006', 'MAST0007'].includes(f.code);

export function validate(objects: readonly KubeObject[], options: ValidateOptions = {}): Finding[] {
  const scope = options.scope ?? 'all';
  const findings = [
    ...(scope !== 'set' ? objects.flatMap(validateResource) : []),
    ...(scope !== 'resource' ? validateSet(objects, options) : []),
  ];
  return findings.map((f) => withSource(f, objects));
}
function duplicates(objects: readonly KubeObject[]): Finding[] {
  const seen = new Set<string>();
  const out: Finding[] = [];
  for (const o of objects) {
    const key = `${o.apiVersion?.split('/')[0]}|${o.kind}|${o.metadata?.namespace ?? ''}|${o.metadata?.name}`;
    if (seen.has(key)) out.push(finding('MAST0009', o, 'metadata.name', `${o.kind} "${o.metadata?.name}" is defined more than once`));
    seen.add(key);
  }
  return out;
}

/** Adds file and line when the object came from the YAML loader. */
/** Findings with the file and line of their resource, where it was loaded from a file (for findings made elsewhere, e.g. on a worker thread). */
export function locateFindings(findings: readonly Finding[], objects: readonly KubeObject[]): Finding[] {
  return findings.map((f) => withSource(f, objects));
}

function withSource(f: Finding, objects: readonly KubeObject[]): Finding {
  const obj = objects.find((o) => o.kind === f.kind && o.metadata?.name === f.name && o.metadata?.namespace === f.namespace);
  const source = obj && sourceOf(obj);
  return source ? { ...f, file: source.file, line: source.lineOf(f.path) } : f;
}
