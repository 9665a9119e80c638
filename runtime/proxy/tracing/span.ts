/**
 * One finished request as an OpenTelemetry span in OTLP/JSON form (ids in hex, times as strings
 * of nanoseconds), with the tags Envoy's HTTP connection manager sets and Istio's: kind SERVER on a
 * sidecar's inbound and CLIENT where the proxy sends out (a gateway, a sidecar's outbound: Envoy's
 * egress), `error` and an error status for a 5xx or no response, and what dry-run AuthorizationPolicies
 * would have done (dry-run-report.ts). Pure: the clock is passed in.
 */
import type { TracingConfig, TracingTag } from '../../contract/proxy-config';
import { dryRunSpanTags } from '../dry-run-report';
import type { RequestRecord } from '../request/record';
import { operationName } from './operation';
import type { TraceContext } from './propagation';

/** OTLP's `Span.SpanKind` and `Status.StatusCode` numbers. */
export const SPAN_KIND_SERVER = 2;
export const SPAN_KIND_CLIENT = 3;
export const STATUS_CODE_ERROR = 2;

export interface OtlpAttribute {
  readonly key: string;
  readonly value: { readonly stringValue: string };
}

export interface OtlpSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly traceState?: string;
  readonly name: string;
  readonly kind: number;
  readonly startTimeUnixNano: string;
  readonly endTimeUnixNano: string;
  readonly attributes: OtlpAttribute[];
  readonly status?: { readonly code: number };
}

/** What the span reads of its proxy besides the record: its config and the routes by name. */
export interface SpanSource {
  readonly config: TracingConfig;
  /** Environment tags resolved once per config (the proxy's environment does not change). */
  readonly environment: ReadonlyMap<string, string | undefined>;
  /** The `node_id` tag: the config's, else the proxy's own (Envoy's node id as Istio forms it). */
  readonly nodeId: string;
  route(name: string | undefined): import('../../contract/proxy-config').RouteConfig | undefined;
}

const attr = (key: string, value: string): OtlpAttribute => ({ key, value: { stringValue: value } });

/** Milliseconds since the epoch (fractional) as OTLP's integer nanoseconds string. */
export function unixNano(ms: number): string {
  const whole = Math.floor(ms);
  const nanos = Math.round((ms - whole) * 1e6);
  return `${whole}${String(nanos).padStart(6, '0')}`;
}

function tagValue(tag: TracingTag, r: RequestRecord, env: SpanSource['environment']): string | undefined {
  if ('literal' in tag) return tag.literal;
  if ('environment' in tag) return env.get(tag.environment) ?? tag.defaultValue;
  return r.request.header(tag.header) ?? tag.defaultValue;
}

/** `scheme://authority/path`, the path cut as Envoy cuts it (max_path_tag_length). */
function url(r: RequestRecord, max: number): string {
  const target = r.request.target;
  return `${r.request.scheme}://${r.authority}${target.length > max ? target.slice(0, max) : target}`;
}

/** The span of a finished request whose trace context is `t`, ended at `endMs` (epoch milliseconds). */
export function buildSpan(r: RequestRecord, t: TraceContext, s: SpanSource, endMs: number): OtlpSpan {
  const egress = !r.inbound;
  const req = r.request;
  const q = req.target.indexOf('?');
  const path = q < 0 ? req.target : req.target.slice(0, q);
  const inboundOps = s.config.inboundOperations;
  const name =
    r.inbound && inboundOps
      ? (inboundOps[String(req.originalPort ?? r.cluster?.port ?? '')] ?? inboundOps['*'] ?? 'ingress')
      : operationName({ route: s.route(r.route), cluster: r.cluster, port: req.port, path, authority: r.authority, egress });
  const error = r.status === 0 || r.status >= 500;
  const attributes = [
    attr('component', 'proxy'),
    attr('node_id', s.nodeId),
    attr('guid:x-request-id', r.requestId),
    attr('http.url', url(r, s.config.maxPathTagLength ?? 256)),
    attr('http.method', req.method),
    attr('http.protocol', r.protocol),
    attr('downstream_cluster', req.header('x-envoy-downstream-service-cluster') ?? '-'),
    attr('user_agent', req.header('user-agent') ?? '-'),
    attr('peer.address', req.remoteAddress),
    attr('request_size', String(r.bytesIn)),
    attr('response_size', String(r.bytesOut)),
    attr('response_flags', r.flags),
    attr('http.status_code', String(r.status)),
  ];
  if (r.cluster) attributes.push(attr('upstream_cluster', r.cluster.name), attr('upstream_cluster.name', r.cluster.name));
  if (error) attributes.push(attr('error', 'true'));
  if (r.dryRun) for (const [k, v] of dryRunSpanTags(r.dryRun.results)) attributes.push(attr(k, v));
  // A sidecar's inbound takes the server side's tags where Telemetry match.mode made them differ.
  for (const tag of r.inbound && s.config.server ? s.config.server.tags : s.config.tags) {
    const v = tagValue(tag, r, s.environment);
    if (v !== undefined) attributes.push(attr(tag.name, v));
  }
  return {
    traceId: t.traceId,
    spanId: t.spanId,
    ...(t.parentId ? { parentSpanId: t.parentId } : {}),
    ...(t.tracestate ? { traceState: t.tracestate } : {}),
    name,
    kind: egress ? SPAN_KIND_CLIENT : SPAN_KIND_SERVER,
    startTimeUnixNano: unixNano(endMs - r.ms),
    endTimeUnixNano: unixNano(endMs),
    attributes,
    ...(error ? { status: { code: STATUS_CODE_ERROR } } : {}),
  };
}
