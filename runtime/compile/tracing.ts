/**
 * Tracing per proxy, as istiod configures Envoy's tracer: the Telemetry resources that apply to the
 * workload merged root namespace → its namespace → its selector's (the oldest of a level first; a
 * later level overrides a field it sets, custom tags merged by name), per side as istiod's client and
 * server specs (an entry's `match.mode` CLIENT or SERVER merges into that side only; a gateway is a
 * client), the provider they name (else the mesh config's `defaultProviders.tracing`) resolved among
 * the mesh config's `opentelemetry` and `zipkin` `extensionProviders`, and the sampling percentage: Telemetry's `randomSamplingPercentage`, else
 * `defaultConfig.tracing.sampling`, else 1 % (istiod's PILOT_TRACE_SAMPLING; a value over 100 is 1
 * too). With no such provider a proxy does not trace (no spans, trace headers passed on untouched).
 * Istio's `istio.*` tags are literals of the workload; span names of a sidecar's inbound come from
 * the services selecting it. Pure.
 */
import {
  isPlainObject,
  isTelemetry,
  namespaceOf,
  ROOT_NAMESPACES,
  selects,
  type KubeObject,
  type Telemetry,
  type TelemetryTracing,
} from '../../api';
import { OTLP_TRACES_EXPORT, type TracingConfig, type TracingTag } from '../contract/proxy-config';
import type { ProxyIdentity } from '../contract/push-protocol';
import { collectorAddress } from './collector';
import type { MeshIndex } from './mesh-index';
import { meshConfigOf } from './mesh-config';

type Collector = NonNullable<TracingConfig['collector']>;

/** The mesh config's tracing parts. */
export interface MeshTracing {
  /** `opentelemetry` and `zipkin` extension providers by name. */
  readonly providers: ReadonlyMap<string, Collector>;
  /** What a provider sets besides its collector: `maxTagLength`, a zipkin's 64-bit ids and B3 headers. */
  readonly options: ReadonlyMap<string, Pick<TracingConfig, 'maxPathTagLength' | 'traceId64' | 'b3'>>;
  /** Each provider's `service` as written (`<namespace>/<host>` or a host), for collectorAddress. */
  readonly services: ReadonlyMap<string, string>;
  readonly defaultProvider?: string;
  /** `defaultConfig.tracing.sampling`, as istiod reads it (over 100: 1). */
  readonly sampling?: number;
  /** `defaultConfig.meshId`, else the trust domain (Istio's default mesh id). */
  readonly meshId: string;
  /** `defaultConfig.tracing.customTags`: the tags when no Telemetry sets any (istiod's fallback). */
  readonly customTags: ReadonlyMap<string, TracingTag>;
  /** `defaultConfig.tracing.maxPathTagLength`: when the provider sets no `maxTagLength`. */
  readonly maxPathTagLength?: number;
}

/** Istio's sampling when nothing sets it (PILOT_TRACE_SAMPLING). */
export const DEFAULT_SAMPLING_PERCENT = 1;
/** Where an OTLP/HTTP collector takes traces unless the provider's `http.path` says otherwise. */
export const OTLP_TRACES_PATH = '/v1/traces';
/** Where a Zipkin collector takes spans unless the provider's `path` says otherwise (istiod's default). */
export const ZIPKIN_SPANS_PATH = '/api/v2/spans';

/** A provider's `service` may be `<namespace>/<host>`: the host is what the proxy connects to. */
export const hostOf = (service: string) => service.slice(service.indexOf('/') + 1);

export function readMeshTracing(objects: readonly KubeObject[]): MeshTracing {
  const mesh = (meshConfigOf(objects) ?? {}) as {
    extensionProviders?: Array<{
      name?: unknown;
      opentelemetry?: { service?: unknown; port?: unknown; http?: { path?: unknown }; maxTagLength?: unknown };
      zipkin?: {
        service?: unknown;
        port?: unknown;
        path?: unknown;
        maxTagLength?: unknown;
        enable64bitTraceId?: unknown;
        traceContextOption?: unknown;
      };
    }>;
    defaultProviders?: { tracing?: unknown[] };
    defaultConfig?: { tracing?: Record<string, unknown>; meshId?: unknown };
    trustDomain?: unknown;
  };
  const providers = new Map<string, Collector>();
  const services = new Map<string, string>();
  const options = new Map<string, Pick<TracingConfig, 'maxPathTagLength' | 'traceId64' | 'b3'>>();
  const tagLength = (n: unknown) => (typeof n === 'number' && n > 0 ? { maxPathTagLength: n } : {});
  for (const p of Array.isArray(mesh.extensionProviders) ? mesh.extensionProviders : []) {
    const z = p?.zipkin;
    if (typeof p?.name === 'string' && typeof z?.service === 'string' && typeof z.port === 'number') {
      services.set(p.name, z.service);
      const path = typeof z.path === 'string' && z.path ? (z.path.startsWith('/') ? z.path : `/${z.path}`) : ZIPKIN_SPANS_PATH;
      providers.set(p.name, { host: hostOf(z.service), port: z.port, path, protocol: 'zipkin' });
      // Envoy's Zipkin tracer sends B3 upstream whatever the client sent (W3C too only when asked); 128-bit ids unless enable64bitTraceId.
      const b3 = z.traceContextOption === 'USE_B3_WITH_W3C_PROPAGATION' ? 'B3_AND_W3C' : 'B3';
      options.set(p.name, { ...tagLength(z.maxTagLength), b3, ...(z.enable64bitTraceId === true ? { traceId64: true } : {}) });
      continue;
    }
    const o = p?.opentelemetry;
    if (typeof p?.name !== 'string' || typeof o?.service !== 'string' || typeof o.port !== 'number') continue;
    services.set(p.name, o.service);
    options.set(p.name, tagLength(o.maxTagLength));
    // Without `http` Istio configures Envoy's tracer for OTLP/gRPC (the collector's 4317).
    if (!isPlainObject(o.http)) {
      providers.set(p.name, { host: hostOf(o.service), port: o.port, path: OTLP_TRACES_EXPORT, protocol: 'grpc' });
      continue;
    }
    const path = typeof o.http.path === 'string' && o.http.path ? o.http.path : OTLP_TRACES_PATH;
    providers.set(p.name, { host: hostOf(o.service), port: o.port, path: path.startsWith('/') ? path : `/${path}` });
  }
  const first = mesh.defaultProviders?.tracing?.[0];
  const proxyTracing = isPlainObject(mesh.defaultConfig?.tracing) ? mesh.defaultConfig.tracing : {};
  const s = proxyTracing.sampling;
  // ProxyConfig is protobuf JSON to istiod: either spelling (Istio's tracing task writes snake_case).
  const maxPath = proxyTracing.maxPathTagLength ?? proxyTracing.max_path_tag_length;
  const rawTags = proxyTracing.customTags ?? proxyTracing.custom_tags;
  const customTags = new Map<string, TracingTag>();
  for (const [name, tag] of Object.entries(isPlainObject(rawTags) ? rawTags : {})) {
    const t = isPlainObject(tag) ? tagOf(name, tag as NonNullable<TelemetryTracing['customTags']>[string]) : undefined;
    if (t) customTags.set(name, t);
  }
  const meshId = mesh.defaultConfig?.meshId ?? mesh.trustDomain;
  return {
    providers,
    options,
    services,
    ...(typeof first === 'string' ? { defaultProvider: first } : {}),
    ...(typeof s === 'number' && s >= 0 ? { sampling: s > 100 ? DEFAULT_SAMPLING_PERCENT : s } : {}),
    meshId: typeof meshId === 'string' && meshId ? meshId : 'cluster.local',
    customTags,
    ...(typeof maxPath === 'number' && maxPath > 0 ? { maxPathTagLength: maxPath } : {}),
  };
}

/** What the Telemetries of a proxy say, merged. */
export interface MergedTracing {
  provider?: string;
  randomSamplingPercentage?: number;
  disableSpanReporting?: boolean;
  /** `enableIstioTags: false`: no `istio.*` tags (istiod's default is true). */
  enableIstioTags?: boolean;
  customTags: Map<string, TracingTag>;
}

const oldestFirst = (a: Telemetry, b: Telemetry) => {
  const ta = String(a.metadata.creationTimestamp ?? '');
  const tb = String(b.metadata.creationTimestamp ?? '');
  return ta !== tb ? (ta < tb ? -1 : 1) : a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
};

function tagOf(name: string, tag: NonNullable<TelemetryTracing['customTags']>[string]): TracingTag | undefined {
  if (tag.literal) return { name, literal: tag.literal.value };
  if (tag.environment)
    return {
      name,
      environment: tag.environment.name,
      ...(tag.environment.defaultValue !== undefined ? { defaultValue: tag.environment.defaultValue } : {}),
    };
  if (tag.header)
    return {
      name,
      header: tag.header.name.toLowerCase(),
      ...(tag.header.defaultValue !== undefined ? { defaultValue: tag.header.defaultValue } : {}),
    };
  return undefined;
}

/** The Telemetries that apply to a workload, in the order they merge: root namespace, its namespace, its selector's. */
export function applicableTelemetries(all: readonly Telemetry[], namespace: string, labels: Readonly<Record<string, string>>): Telemetry[] {
  const sorted = [...all].sort(oldestFirst);
  const root = sorted.filter(
    (t) => ROOT_NAMESPACES.includes(namespaceOf(t)) && !t.spec.selector?.matchLabels && namespaceOf(t) !== namespace,
  );
  const ns = sorted.filter((t) => namespaceOf(t) === namespace && !t.spec.selector?.matchLabels);
  const workload = sorted.filter(
    (t) => namespaceOf(t) === namespace && t.spec.selector?.matchLabels && selects(t.spec.selector.matchLabels, labels),
  );
  // One Telemetry per level, as Istio: the oldest.
  return [root[0], ns[0], workload[0]].filter((t): t is Telemetry => t !== undefined);
}

/** Istio's tracing sides: CLIENT (a sidecar's outbound, a gateway), SERVER (a sidecar's inbound). */
export type TracingSide = 'CLIENT' | 'SERVER';

/** The Telemetries' tracing merged for one side (an entry whose `match.mode` is the other side's is skipped), or for both. */
export function mergeTracing(telemetries: readonly Telemetry[], side?: TracingSide): MergedTracing {
  const out: MergedTracing = { customTags: new Map() };
  for (const t of telemetries)
    for (const tr of t.spec.tracing ?? []) {
      const mode = tr.match?.mode;
      if (side && (mode === 'CLIENT' || mode === 'SERVER') && mode !== side) continue;
      const provider = tr.providers?.[0]?.name;
      if (provider) out.provider = provider;
      if (tr.randomSamplingPercentage !== undefined) out.randomSamplingPercentage = tr.randomSamplingPercentage;
      if (tr.disableSpanReporting !== undefined) out.disableSpanReporting = tr.disableSpanReporting;
      if (tr.enableIstioTags !== undefined) out.enableIstioTags = tr.enableIstioTags;
      // istiod's shallow merge: an entry's customTags replace the whole map of the levels above.
      if (tr.customTags) {
        out.customTags = new Map();
        for (const [name, tag] of Object.entries(tr.customTags)) {
          const t2 = tagOf(name, tag);
          if (t2) out.customTags.set(name, t2);
        }
      }
    }
  return out;
}

/** Per index: the mesh config's tracing parts and the Telemetries (every proxy's compile looks here). */
const cache = new WeakMap<MeshIndex, { mesh: MeshTracing; telemetries: Telemetry[] }>();
function tracingInputs(index: MeshIndex) {
  let c = cache.get(index);
  if (!c) {
    const objects = index.snapshot.objects;
    cache.set(index, (c = { mesh: readMeshTracing(objects), telemetries: objects.filter(isTelemetry) as Telemetry[] }));
  }
  return c;
}

/** Whether any proxy of the index may trace: then its config depends on the workload's labels (equivalence key). */
export function meshTraces(index: MeshIndex): boolean {
  const { mesh, telemetries } = tracingInputs(index);
  return mesh.providers.size > 0 && (mesh.defaultProvider !== undefined || telemetries.length > 0);
}

/** Istio's canonical service and revision of a workload, from its labels. */
function canonical(labels: Readonly<Record<string, string>>): { service: string; revision: string } {
  return {
    service: labels['service.istio.io/canonical-name'] ?? labels['app.kubernetes.io/name'] ?? labels.app ?? 'unknown',
    revision: labels['service.istio.io/canonical-revision'] ?? labels['app.kubernetes.io/version'] ?? labels.version ?? 'latest',
  };
}

/** A sidecar's inbound span names by app port: `<service host>:<service port>/*` of the services selecting it. */
function inboundOperations(index: MeshIndex, proxy: ProxyIdentity): Record<string, string> | undefined {
  if (proxy.mode !== 'sidecar' || !proxy.inbound) return undefined;
  const out: Record<string, string> = {};
  const mine = new Set(
    index.snapshot.registry.services
      .filter((s) => s.namespace === proxy.namespace && s.selector && selects(s.selector, proxy.labels))
      .map((s) => s.host),
  );
  for (const p of index.servicePorts) {
    if (p.namespace !== proxy.namespace || !mine.has(p.host)) continue;
    const op = `${p.host}:${p.number}/*`;
    out['*'] ??= op;
    out[String(p.targetPort ?? p.number)] ??= op;
    // In `mast local` the app listens where its inbound cluster says (one app port): every request there is this service's.
    if (proxy.inbound.appPort !== undefined) out[String(proxy.inbound.appPort)] ??= op;
  }
  return Object.keys(out).length ? out : undefined;
}

/** The proxy's tracing, or undefined when no provider applies (it does not trace). */
export function tracingFor(index: MeshIndex, proxy: ProxyIdentity): TracingConfig | undefined {
  const { mesh, telemetries } = tracingInputs(index);
  if (mesh.providers.size === 0) return undefined;
  const applicable = applicableTelemetries(telemetries, proxy.namespace, proxy.labels);
  const known = (m: MergedTracing) => {
    const provider = m.provider ?? mesh.defaultProvider;
    return provider !== undefined && mesh.providers.has(provider) && !m.disableSpanReporting ? provider : undefined;
  };
  // istiod's client and server specs: a side whose provider is unknown, or whose span reporting is
  // disabled, is not traced (istiod gives its listeners no tracing: headers pass on untouched). A gateway is a client only.
  const client = mergeTracing(applicable, 'CLIENT');
  const server = proxy.mode === 'sidecar' ? mergeTracing(applicable, 'SERVER') : undefined;
  const clientProvider = known(client);
  const serverProvider = server && known(server);
  const only: TracingConfig['only'] = proxy.mode === 'gateway' || !serverProvider ? 'CLIENT' : !clientProvider ? 'SERVER' : undefined;
  // One collector per proxy: where both sides trace to different providers, the client side's serves both (docs/observability-tracing.md).
  const merged = only === 'SERVER' ? server! : client;
  const provider = only === 'SERVER' ? serverProvider : clientProvider;
  const given = provider !== undefined ? mesh.providers.get(provider) : undefined;
  if (!given) return undefined;
  // The service's endpoint when the mesh knows it, as Envoy reaches the provider through its cluster.
  const collector = { ...given, ...collectorAddress(index, mesh.services.get(provider!) ?? given.host, given.port) };
  const { service, revision } = canonical(proxy.labels);
  const tagsOf = (m: MergedTracing): TracingTag[] => [
    ...(m.enableIstioTags === false
      ? []
      : [
          { name: 'istio.canonical_revision', literal: revision },
          { name: 'istio.canonical_service', literal: service },
          { name: 'istio.mesh_id', literal: mesh.meshId },
          { name: 'istio.namespace', literal: proxy.namespace },
        ]),
    // Istio: the Telemetry's tags, else the mesh config's defaultConfig.tracing.customTags.
    ...(m.customTags.size ? m.customTags : mesh.customTags).values(),
  ];
  const samplingOf = (m: MergedTracing) => m.randomSamplingPercentage ?? mesh.sampling ?? DEFAULT_SAMPLING_PERCENT;
  const tags = tagsOf(merged);
  const samplingPercent = samplingOf(merged);
  // Both sides traced: the server side's sampling and tags where a SERVER-mode entry made them differ.
  const serverSide = !only && server ? { samplingPercent: samplingOf(server), tags: tagsOf(server) } : undefined;
  const differs =
    serverSide && (serverSide.samplingPercent !== samplingPercent || JSON.stringify(serverSide.tags) !== JSON.stringify(tags));
  const inbound = inboundOperations(index, proxy);
  return {
    samplingPercent,
    ...(differs ? { server: serverSide } : {}),
    collector,
    ...(mesh.maxPathTagLength !== undefined ? { maxPathTagLength: mesh.maxPathTagLength } : {}),
    // The provider's maxTagLength wins over defaultConfig's.
    ...mesh.options.get(provider!),
    // A gateway has only a client side: saying so would change nothing.
    ...(only && proxy.mode === 'sidecar' ? { only } : {}),
    // Istio's service cluster: `<app>.<namespace>`.
    serviceName: `${proxy.labels.app ?? service}.${proxy.namespace}`,
    tags,
    ...(inbound ? { inboundOperations: inbound } : {}),
  };
}
