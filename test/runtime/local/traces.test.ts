/** mast local's trace store, the waterfall order and page, and the mesh config that sends spans to it. */
import { parse } from 'yaml';
import type { KubeObject } from '../../../api';
import { renderWaterfall } from '../../../runtime/local/page';
import { LOCAL_PROVIDER, MAX_TRACES, TraceStore, waterfallOrder, withLocalTracing } from '../../../runtime/local/traces';
import { readMeshTracing } from '../../../runtime/compile/tracing';

const span = (traceId: string, spanId: string, parent: string | undefined, start: number, end: number, kind = 2) => ({
  traceId,
  spanId,
  ...(parent ? { parentSpanId: parent } : {}),
  name: `op-${spanId}`,
  kind,
  startTimeUnixNano: String(BigInt(start * 1000) * 1000n),
  endTimeUnixNano: String(BigInt(end * 1000) * 1000n),
  attributes: [
    { key: 'http.status_code', value: { stringValue: spanId === 'c' ? '503' : '200' } },
    ...(spanId === 'c' ? [{ key: 'error', value: { stringValue: 'true' } }] : []),
  ],
});
const exportOf = (service: string, spans: object[]) => ({
  resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] }, scopeSpans: [{ spans }] }],
});

test('spans of several exports gather by trace; a trace is ordered parents first, siblings by start', () => {
  const store = new TraceStore();
  // Children arrive before their parent (each proxy exports on its own).
  store.add(exportOf('reviews.default', [span('t1', 'c', 'b', 12, 18), span('t1', 'd', 'b', 11, 13)]));
  store.add(exportOf('gw', [span('t1', 'a', undefined, 10, 20, 3)]));
  store.add(exportOf('productpage.default', [span('t1', 'b', 'a', 10.5, 19)]));
  const [t] = store.recent();
  expect(t.spans.map((s) => s.spanId)).toEqual(['a', 'b', 'd', 'c']);
  expect(t).toMatchObject({ traceId: 't1', startMs: 10, endMs: 20 });
  expect(t.spans[0]).toMatchObject({ service: 'gw', kind: 'CLIENT', status: '200', error: false });
  expect(t.spans[3]).toMatchObject({ service: 'reviews.default', kind: 'SERVER', status: '503', error: true });
});

test('the store keeps the most recent traces only, newest first', () => {
  const store = new TraceStore();
  for (let i = 0; i < MAX_TRACES + 5; i++) store.add(exportOf('gw', [span(`t${i}`, 'a', undefined, i, i + 1)]));
  const all = store.recent(1000);
  expect(all).toHaveLength(MAX_TRACES);
  expect(all[0].traceId).toBe(`t${MAX_TRACES + 4}`);
  expect(all.at(-1)?.traceId).toBe('t5');
});

test('bad input is skipped, not thrown', () => {
  const store = new TraceStore();
  expect(store.add(null)).toBe(0);
  expect(store.add({ resourceSpans: [{ scopeSpans: [{ spans: [{ name: 'no ids' }] }] }] })).toBe(0);
});

test('waterfallOrder: a span whose parent is missing is a root; a cycle ends', () => {
  const v = (spanId: string, parentSpanId?: string, startMs = 0) => ({
    spanId,
    parentSpanId,
    name: '',
    kind: 'SERVER' as const,
    service: '',
    startMs,
    endMs: 1,
    status: '',
    error: false,
  });
  expect(waterfallOrder([v('x', 'gone', 2), v('y', undefined, 1)]).map((s) => s.spanId)).toEqual(['y', 'x']);
  expect(waterfallOrder([v('p', 'q'), v('q', 'p')])).toHaveLength(0);
});

test('renderWaterfall: a row per span, indented by depth, bars placed in the trace time; an error red', () => {
  const store = new TraceStore();
  store.add(exportOf('gw', [span('t1', 'a', undefined, 0, 100, 3), span('t1', 'b', 'a', 50, 100), span('t1', 'c', 'b', 75, 100)]));
  const html = renderWaterfall(store.recent()[0]);
  expect(html).toContain('data-trace="t1"');
  expect(html).toMatch(/data-span="b" data-parent="a"><td style="padding-left:24px">/);
  expect(html).toMatch(/data-span="c" data-parent="b"><td style="padding-left:40px">/);
  expect(html).toContain('left:50.00%;width:50.00%');
  expect(html).toContain('left:75.00%;width:25.00%;height:12px;background:#cf222e');
});

describe('withLocalTracing', () => {
  const cm = (mesh: string, namespace = 'istio-system'): KubeObject => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'istio', namespace },
    data: { mesh },
  });

  test('a mesh without a tracing provider: mast local becomes the default provider, sampling every request', () => {
    const out = withLocalTracing([], 4318);
    const t = readMeshTracing(out);
    expect(t.defaultProvider).toBe(LOCAL_PROVIDER);
    expect(t.providers.get(LOCAL_PROVIDER)).toEqual({ host: '127.0.0.1', port: 4318, path: '/v1/traces' });
    expect(t.sampling).toBe(100);
  });

  test("the mesh's own config is kept (its settings, its sampling) with the provider added", () => {
    const out = withLocalTracing([cm('pathNormalization: { normalization: NONE }\ndefaultConfig: { tracing: { sampling: 5 } }\n')], 4318);
    expect(out).toHaveLength(1);
    const mesh = parse((out[0] as unknown as { data: { mesh: string } }).data.mesh);
    expect(mesh.pathNormalization).toEqual({ normalization: 'NONE' });
    expect(readMeshTracing(out)).toMatchObject({ defaultProvider: LOCAL_PROVIDER, sampling: 5 });
  });

  test('a mesh naming its own provider is left as it is', () => {
    const own = [
      cm(
        'extensionProviders: [{ name: jaeger, opentelemetry: { service: jaeger, port: 4318, http: { path: /v1/traces } } }]\ndefaultProviders: { tracing: [jaeger] }\n',
      ),
    ];
    expect(withLocalTracing(own, 4318)).toEqual(own);
  });
});
