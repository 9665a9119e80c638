/**
 * A proxy's tracer: it gives each request its span's context as the request starts (propagation.ts,
 * called by the exchanges only when the config has `tracing`: one branch per request otherwise),
 * and, subscribed to the request records (record.ts's `requestFinished`, as telemetry.ts is), turns
 * each sampled finished request into a span for the exporter. Unsampled requests cost their ids
 * and the upstream headers, nothing more.
 */
import { performance } from 'node:perf_hooks';
import type { ProxyConfig, RouteConfig, TracingConfig } from '../../contract/proxy-config';
import { requestFinished, type RequestRecord } from '../request/record';
import { TraceIds } from './ids';
import { B3_ONLY, CARRIED_B3, extract, type IdSource, startContext, type HeaderSource, type TraceContext } from './propagation';
import { buildSpan, type SpanSource } from './span';
import { BatchExporter } from '../otlp/batcher';
import { grpcPost, type Post as GrpcPost } from '../otlp/grpc';
import {
  type Count,
  type ExporterOptions,
  grpcSpanExporter,
  httpPost,
  type Post,
  SPAN_COUNTERS as ZIPKIN_COUNTERS,
  SpanExporter,
} from './exporter';
import type { OtlpSpan } from './span';
import { zipkinBody } from './zipkin';

export interface TracerOptions {
  /** The random source of the sampling decision, in [0, 1). @default Math.random */
  readonly random?: () => number;
  readonly ids?: TraceIds;
  /** How a batch reaches an OTLP/HTTP collector. @default node:http */
  readonly post?: (collector: NonNullable<TracingConfig['collector']>) => Post;
  /** How a batch reaches an OTLP/gRPC collector (`protocol: 'grpc'`). @default node:http2 (../otlp/grpc.ts) */
  readonly grpcPost?: (collector: NonNullable<TracingConfig['collector']>) => GrpcPost;
  readonly exporter?: ExporterOptions;
  /** Epoch milliseconds, fractional. @default performance.timeOrigin + performance.now() */
  readonly now?: () => number;
}

/** Who the proxy is, for its `node_id` tag. */
export interface TracerIdentity {
  readonly mode: 'gateway' | 'sidecar';
  readonly workload: string;
  readonly namespace: string;
}

/** Istio's node id, `<type>~<ip>~<pod>.<namespace>~<namespace>.svc.cluster.local` (a gateway's type is router). */
export const nodeIdOf = (p: TracerIdentity, ip = process.env.INSTANCE_IP ?? process.env.POD_IP ?? '127.0.0.1'): string =>
  `${p.mode === 'gateway' ? 'router' : 'sidecar'}~${ip}~${p.workload}.${p.namespace}~${p.namespace}.svc.cluster.local`;

const wallClock = () => performance.timeOrigin + performance.now();
/** The high half of a 64-bit trace id carried in 128 bits. */
const ZERO_HIGH = '0'.repeat(16);

export class Tracer implements SpanSource {
  config!: TracingConfig;
  nodeId = '';
  environment = new Map<string, string | undefined>();
  private routes = new Map<string, RouteConfig>();
  private exporter?: BatchExporter<OtlpSpan, string> | BatchExporter<OtlpSpan, Uint8Array>;
  private collectorKey = '';
  private readonly ids: TraceIds;
  /** The ids of new traces: 64-bit ones (high half zero) under a zipkin provider's enable64bitTraceId. */
  private traceIds: IdSource;
  /** CARRIED_* forms sent upstream on every request (B3 under a zipkin provider). */
  private alwaysSent = 0;
  /** The side not traced (Telemetry match.mode): true for inbound when only CLIENT, false when only SERVER. */
  private skipInbound?: boolean;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly onRecord = (m: unknown): void => {
    const r = m as RequestRecord;
    if (r.owner === this.owner && r.trace?.sampled) this.exporter?.add(buildSpan(r, r.trace, this, this.now()));
  };
  private readonly sample = (): boolean => this.random() * 100 < this.config.samplingPercent;
  /** An inbound request's draw where the server side samples apart (config.server). */
  private readonly sampleServer = (): boolean => this.random() * 100 < (this.config.server?.samplingPercent ?? this.config.samplingPercent);

  constructor(
    private readonly owner: object,
    config: ProxyConfig,
    private readonly count: Count,
    private readonly o: TracerOptions = {},
    private readonly identity?: TracerIdentity,
  ) {
    this.ids = o.ids ?? new TraceIds();
    this.traceIds = this.ids;
    this.random = o.random ?? Math.random;
    this.now = o.now ?? wallClock;
    this.update(config);
  }

  /** The span context of a request starting now; none on the side Telemetry's match.mode leaves out. */
  start(req: HeaderSource, inbound: boolean): TraceContext | undefined {
    if (inbound === this.skipInbound) return undefined;
    const sample = inbound && this.config.server ? this.sampleServer : this.sample;
    return startContext(extract(req, !(this.alwaysSent & B3_ONLY)), this.traceIds, sample, this.alwaysSent);
  }

  route(name: string | undefined): RouteConfig | undefined {
    return name === undefined ? undefined : this.routes.get(name);
  }

  /** A new config (it has `tracing`): its routes, tags and collector taken up; a changed collector gets a new exporter. */
  update(config: ProxyConfig): void {
    const t = config.tracing!;
    this.config = t;
    this.nodeId = t.nodeId ?? (this.identity ? nodeIdOf(this.identity) : '');
    this.skipInbound = t.only === 'CLIENT' ? true : t.only === 'SERVER' ? false : undefined;
    this.alwaysSent = t.b3 === 'B3' ? CARRIED_B3 | B3_ONLY : t.b3 ? CARRIED_B3 : 0;
    const ids = this.ids;
    this.traceIds = t.traceId64 ? { traceId: () => `${ZERO_HIGH}${ids.spanId()}`, spanId: () => ids.spanId() } : ids;
    this.routes = new Map();
    for (const l of config.listeners)
      for (const vh of l.virtualHosts ?? []) for (const r of vh.routes) if (!this.routes.has(r.name)) this.routes.set(r.name, r);
    this.environment = new Map();
    for (const tag of [...t.tags, ...(t.server?.tags ?? [])])
      if ('environment' in tag) this.environment.set(tag.environment, process.env[tag.environment]);
    const c = t.collector;
    const key = c ? `${c.protocol ?? 'http'}|${c.host}:${c.port}${c.path}|${c.authority ?? ''}|${t.serviceName}` : '';
    if (key === this.collectorKey) return;
    this.collectorKey = key;
    this.exporter?.close();
    this.exporter = undefined;
    requestFinished.unsubscribe(this.onRecord);
    if (!c) return;
    this.exporter =
      c.protocol === 'zipkin'
        ? new BatchExporter(
            (spans: readonly OtlpSpan[]) => zipkinBody(spans, t.serviceName),
            (this.o.post ?? httpPost)(c),
            this.count,
            ZIPKIN_COUNTERS,
            this.o.exporter,
          )
        : c.protocol === 'grpc'
          ? grpcSpanExporter(
              t.serviceName,
              (this.o.grpcPost ?? ((g) => grpcPost({ host: g.host, port: g.port, path: g.path, authority: g.authority })))(c),
              this.count,
              this.o.exporter,
            )
          : new SpanExporter(t.serviceName, (this.o.post ?? httpPost)(c), this.count, this.o.exporter);
    requestFinished.subscribe(this.onRecord);
  }

  /** Unsubscribed; queued spans sent. */
  close(): void {
    requestFinished.unsubscribe(this.onRecord);
    this.exporter?.close();
    this.exporter = undefined;
    this.collectorKey = '';
  }
}

/** The tracer for a config: none without `tracing` (the old one closed), else the current one updated or a new one. */
export function tracerFor(
  owner: object,
  config: ProxyConfig,
  current: Tracer | undefined,
  count: Count,
  identity?: TracerIdentity,
): Tracer | undefined {
  if (!config.tracing) {
    current?.close();
    return undefined;
  }
  if (current) {
    current.update(config);
    return current;
  }
  return new Tracer(owner, config, count, {}, identity);
}
