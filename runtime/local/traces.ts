/**
 * `mast local` as its own trace collector: an OTLP/HTTP (JSON) receiver on loopback that keeps the
 * most recent traces for the page's waterfall, and the mesh config that sends the proxies' spans
 * there unless the mesh names a tracing provider of its own (then it is left alone). Locally every
 * request is sampled (Istio's default of 1 % would show nothing to a user trying a request or two),
 * unless the mesh config sets `defaultConfig.tracing.sampling`.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse, stringify } from 'yaml';
import { isPlainObject, ROOT_NAMESPACES, type KubeObject } from '../../api';
import { meshConfigMapIndex, meshConfigOf, MESH_CONFIGMAP } from '../compile/mesh-config';
import { OTLP_TRACES_PATH, readMeshTracing } from '../compile/tracing';

/** One span as the page shows it. */
export interface SpanView {
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  /** SERVER or CLIENT (OTLP's kind 2 and 3). */
  readonly kind: 'SERVER' | 'CLIENT' | 'OTHER';
  readonly service: string;
  /** Epoch milliseconds, fractional. */
  readonly startMs: number;
  readonly endMs: number;
  readonly status: string;
  readonly error: boolean;
  /** Its `istio.authorization.*` tags (what dry-run AuthorizationPolicies would have done), when it has any. */
  readonly authz?: Readonly<Record<string, string>>;
}

export interface TraceView {
  readonly traceId: string;
  /** Its spans, parents before children, siblings by start time. */
  readonly spans: readonly SpanView[];
  readonly startMs: number;
  readonly endMs: number;
}

/** Traces kept (the oldest forgotten first), spans per trace, and the largest export body taken. */
export const MAX_TRACES = 50;
export const MAX_SPANS_PER_TRACE = 200;
const MAX_BODY_BYTES = 4 * 1024 * 1024;
export const LOCAL_PROVIDER = 'mast-local';

/** OTLP's nanoseconds (a string of digits in JSON; a number from some exporters) as fractional milliseconds; anything else 0. */
const nanosToMs = (n: unknown): number => {
  if (typeof n === 'string' && /^\d{1,20}$/.test(n)) return Number(BigInt(n) / 1000n) / 1000;
  return typeof n === 'number' && Number.isFinite(n) ? n / 1e6 : 0;
};

const authzTags = (tags: ReadonlyMap<string, string>): { authz?: Record<string, string> } => {
  const authz = [...tags].filter(([k]) => k.startsWith('istio.authorization.'));
  return authz.length ? { authz: Object.fromEntries(authz) } : {};
};

export class TraceStore {
  /** By trace id, in order of arrival (a Map keeps insertion order). */
  private readonly traces = new Map<string, SpanView[]>();

  /** Takes an OTLP ExportTraceServiceRequest in its JSON form; answers how many spans it kept. */
  add(request: unknown): number {
    let kept = 0;
    const resourceSpans = isPlainObject(request) && Array.isArray(request.resourceSpans) ? request.resourceSpans : [];
    for (const rs of resourceSpans) {
      const attrs: Array<{ key?: string; value?: { stringValue?: string } }> = rs?.resource?.attributes ?? [];
      const service = attrs.find((a) => a?.key === 'service.name')?.value?.stringValue ?? 'unknown';
      for (const ss of Array.isArray(rs?.scopeSpans) ? rs.scopeSpans : [])
        for (const s of Array.isArray(ss?.spans) ? ss.spans : []) {
          if (typeof s?.traceId !== 'string' || typeof s.spanId !== 'string') continue;
          const tags = new Map<string, string>(
            (Array.isArray(s.attributes) ? s.attributes : []).map((a: { key: string; value?: { stringValue?: string } }) => [
              a.key,
              a.value?.stringValue ?? '',
            ]),
          );
          let spans = this.traces.get(s.traceId);
          if (!spans) {
            if (this.traces.size >= MAX_TRACES) this.traces.delete(this.traces.keys().next().value as string);
            this.traces.set(s.traceId, (spans = []));
          }
          if (spans.length >= MAX_SPANS_PER_TRACE) continue;
          spans.push({
            spanId: s.spanId,
            ...(typeof s.parentSpanId === 'string' && s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
            name: String(s.name ?? ''),
            kind: s.kind === 2 ? 'SERVER' : s.kind === 3 ? 'CLIENT' : 'OTHER',
            service,
            startMs: nanosToMs(s.startTimeUnixNano),
            endMs: nanosToMs(s.endTimeUnixNano),
            status: tags.get('http.status_code') ?? '',
            error: tags.get('error') === 'true',
            ...authzTags(tags),
          });
          kept++;
        }
    }
    return kept;
  }

  /** The most recent traces first, each ordered as a waterfall. */
  recent(n = 10): TraceView[] {
    return [...this.traces.entries()]
      .slice(-n)
      .reverse()
      .map(([traceId, spans]) => ({
        traceId,
        spans: waterfallOrder(spans),
        startMs: Math.min(...spans.map((s) => s.startMs)),
        endMs: Math.max(...spans.map((s) => s.endMs)),
      }));
  }
}

/** Parents before their children (depth first), siblings by start; a span whose parent is not here is a root. */
export function waterfallOrder(spans: readonly SpanView[]): SpanView[] {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string, SpanView[]>();
  const roots: SpanView[] = [];
  for (const s of spans) {
    if (s.parentSpanId && ids.has(s.parentSpanId)) children.set(s.parentSpanId, [...(children.get(s.parentSpanId) ?? []), s]);
    else roots.push(s);
  }
  const out: SpanView[] = [];
  const seen = new Set<string>();
  const visit = (s: SpanView) => {
    if (seen.has(s.spanId)) return;
    seen.add(s.spanId);
    out.push(s);
    for (const c of (children.get(s.spanId) ?? []).sort((a, b) => a.startMs - b.startMs)) visit(c);
  };
  for (const r of roots.sort((a, b) => a.startMs - b.startMs)) visit(r);
  return out;
}

/** The OTLP/HTTP receiver: POST /v1/traces with a JSON body; anything else 404, a body too large 413. */
export class TraceReceiver {
  readonly store = new TraceStore();
  private server?: http.Server;
  port = 0;

  async listen(host = '127.0.0.1'): Promise<number> {
    this.server = http.createServer((req, res) => {
      if (req.method !== 'POST' || req.url?.split('?')[0] !== OTLP_TRACES_PATH) {
        res.writeHead(404).end();
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY_BYTES) {
          res.writeHead(413).end();
          req.destroy();
        } else chunks.push(c);
      });
      req.on('end', () => {
        try {
          this.store.add(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        } catch {
          res.writeHead(400).end();
        }
      });
    });
    await new Promise<void>((resolve, reject) => this.server!.once('error', reject).listen(0, host, resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this.port;
  }

  close(): Promise<void> {
    return new Promise((r) => (this.server ? (this.server.closeAllConnections(), this.server.close(() => r())) : r()));
  }
}

/**
 * The objects with the mesh config sending spans to `port` on loopback: a `mast-local` OTLP/HTTP
 * provider made the default, and sampling 100 % unless set, added to the root namespace's `istio`
 * ConfigMap (or one made in the first root namespace). A mesh whose config names a default tracing
 * provider, or a Telemetry that names one, is returned as it is.
 */
export function withLocalTracing(objects: readonly KubeObject[], port: number): KubeObject[] {
  if (readMeshTracing(objects).defaultProvider !== undefined) return [...objects];
  const namesProvider = objects.some(
    (o) =>
      o.kind === 'Telemetry' &&
      ((o as { spec?: { tracing?: Array<{ providers?: unknown[] }> } }).spec?.tracing ?? []).some((t) => t?.providers?.length),
  );
  if (namesProvider) return [...objects];
  const mesh = { ...(meshConfigOf(objects) ?? {}) } as Record<string, unknown>;
  const providers = Array.isArray(mesh.extensionProviders) ? [...mesh.extensionProviders] : [];
  providers.push({ name: LOCAL_PROVIDER, opentelemetry: { service: '127.0.0.1', port, http: { path: OTLP_TRACES_PATH } } });
  mesh.extensionProviders = providers;
  mesh.defaultProviders = { ...(isPlainObject(mesh.defaultProviders) ? mesh.defaultProviders : {}), tracing: [LOCAL_PROVIDER] };
  const defaultConfig = isPlainObject(mesh.defaultConfig) ? mesh.defaultConfig : {};
  const tracing = isPlainObject(defaultConfig.tracing) ? defaultConfig.tracing : {};
  mesh.defaultConfig = { ...defaultConfig, tracing: { sampling: 100, ...tracing } };
  const existing = meshConfigMapIndex(objects);
  const text = stringify(mesh);
  if (existing < 0) {
    const cm = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: MESH_CONFIGMAP, namespace: ROOT_NAMESPACES[0] },
      data: { mesh: text },
    };
    return [...objects, cm];
  }
  const out = [...objects];
  const cm = out[existing] as KubeObject & { data: Record<string, unknown> };
  out[existing] = { ...cm, data: { ...cm.data, mesh: text } };
  return out;
}

/** For a test that wants the mesh config it made (parsed). */
export const meshOf = (objects: readonly KubeObject[]): Record<string, unknown> | undefined => {
  const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata?.name === MESH_CONFIGMAP) as { data?: { mesh?: string } } | undefined;
  return cm?.data?.mesh ? (parse(cm.data.mesh) as Record<string, unknown>) : undefined;
};
