/**
 * Istio's distributed tracing task on `mast local`, with mast local as the collector: one request
 * through gateway → productpage → reviews v2 → ratings (gRPC) is ONE trace whose spans nest hop by
 * hop (each inbound SERVER span the child of the CLIENT span before it), named and tagged as
 * Istio's, and the page shows it as a waterfall. Bookinfo's apps propagate the trace headers.
 */
import { until } from '../support/poll';
import { request, startExample, type Running } from './support';
import type { SpanView, TraceView } from '../../runtime/local/traces';
import { LocalAdmin } from '../../runtime/local/admin';

let ex: Running;
beforeAll(async () => {
  ex = await startExample();
}, 60_000);
afterAll(() => ex?.stop());

const find = (t: TraceView, service: string, kind: SpanView['kind'], name?: RegExp) =>
  t.spans.filter((s) => s.service === service && s.kind === kind && (!name || name.test(s.name)));

test('one request, one trace: gateway → productpage → reviews v2 → ratings, nested by parent id', async () => {
  const page = await request(ex.port, '/productpage', { 'end-user': 'jason' });
  expect(page.status).toBe(200);
  const reviews = page.body.calls?.find((c) => c.service === 'reviews');
  expect(reviews?.version).toBe('v2');

  const store = ex.mesh.traces.store;
  // Eight spans: gateway, productpage in/out ×2 (details, reviews), reviews in/out, ratings in.
  const trace: TraceView = await until(
    'the request trace with its ratings span',
    () => store.recent(50).find((t) => t.spans.some((s) => s.service.startsWith('ratings')) && t.spans.length >= 8) as TraceView,
    15_000,
    () => JSON.stringify(store.recent(5), null, 1).slice(0, 3000),
  );
  const byId = new Map(trace.spans.map((s) => [s.spanId, s]));
  const parentOf = (s: SpanView) => (s.parentSpanId ? byId.get(s.parentSpanId) : undefined);

  const [gw] = find(trace, 'istio-ingressgateway.mast-system', 'CLIENT');
  expect(gw).toBeDefined();
  expect(gw.parentSpanId).toBeUndefined();
  expect(gw.name).toBe('productpage.default.svc.cluster.local:9080/productpage');

  const [ppIn] = find(trace, 'productpage.default', 'SERVER');
  expect(parentOf(ppIn)).toBe(gw);
  expect(ppIn.name).toBe('productpage.default.svc.cluster.local:9080/*');

  const [ppToReviews] = find(trace, 'productpage.default', 'CLIENT', /^reviews/);
  expect(parentOf(ppToReviews)).toBe(ppIn);
  // The reviews route splits nothing for jason: one destination, host:port of the cluster.
  expect(ppToReviews.name).toBe('reviews.default.svc.cluster.local:9080/*');

  const [reviewsIn] = find(trace, 'reviews.default', 'SERVER');
  expect(parentOf(reviewsIn)).toBe(ppToReviews);

  const [reviewsToRatings] = find(trace, 'reviews.default', 'CLIENT');
  expect(parentOf(reviewsToRatings)).toBe(reviewsIn);

  const [ratingsIn] = find(trace, 'ratings.default', 'SERVER');
  expect(parentOf(ratingsIn)).toBe(reviewsToRatings);

  const [ppToDetails] = find(trace, 'productpage.default', 'CLIENT', /^details/);
  expect(parentOf(ppToDetails)).toBe(ppIn);

  // Every span starts within its parent's time (the clocks of two processes may differ by a little; a
  // server span may end a moment after its client's, which has its response already), all answered 200.
  for (const s of trace.spans) {
    const p = parentOf(s);
    if (p) expect([s.startMs >= p.startMs - 5, s.startMs <= p.endMs]).toEqual([true, true]);
    expect(s.status).toBe('200');
  }

  // The page shows it: a waterfall row per span, parents before children.
  const admin = new LocalAdmin(ex.mesh);
  const adminPort = await admin.listen(0);
  const html = await (await fetch(`http://127.0.0.1:${adminPort}/body`)).text().finally(() => admin.close());
  expect(html).toContain(`data-trace="${trace.traceId}"`);
  const rows = [...html.matchAll(/data-span="([0-9a-f]{16})" data-parent="([0-9a-f]*)"/g)].map((m) => m[1]);
  for (const s of trace.spans) expect(rows).toContain(s.spanId);
  expect(rows.indexOf(gw.spanId)).toBeLessThan(rows.indexOf(ratingsIn.spanId));
}, 60_000);
