/** Spans leave in batches off the request path: by size, by time, one export in flight, a bounded queue, drops counted. */
import {
  SpanExporter,
  SPANS_DROPPED_EXPORT_FAILED,
  SPANS_DROPPED_QUEUE_FULL,
  SPANS_EXPORTED,
} from '../../../../runtime/proxy/tracing/exporter';
import type { OtlpSpan } from '../../../../runtime/proxy/tracing/span';

const span = (i: number): OtlpSpan => ({
  traceId: 'a'.repeat(32),
  spanId: i.toString(16).padStart(16, '0'),
  name: `s${i}`,
  kind: 2,
  startTimeUnixNano: '1',
  endTimeUnixNano: '2',
  attributes: [],
});

function harness(o: { maxQueue?: number; batchSize?: number; flushMs?: number } = {}) {
  const posted: Array<{ names: string[]; done: (ok: boolean) => void }> = [];
  const counts: Record<string, number> = {};
  const exporter = new SpanExporter(
    'productpage.default',
    (body, done) => {
      const parsed = JSON.parse(body);
      expect(parsed.resourceSpans[0].resource.attributes).toEqual([{ key: 'service.name', value: { stringValue: 'productpage.default' } }]);
      posted.push({ names: parsed.resourceSpans[0].scopeSpans[0].spans.map((s: OtlpSpan) => s.name), done });
    },
    (name, by) => (counts[name] = (counts[name] ?? 0) + by),
    o,
  );
  return { exporter, posted, counts };
}

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

test('a full batch goes at once; a partial one after the flush interval', () => {
  const { exporter, posted } = harness({ batchSize: 3, flushMs: 1000 });
  for (let i = 0; i < 3; i++) exporter.add(span(i));
  expect(posted.map((p) => p.names)).toEqual([['s0', 's1', 's2']]);
  posted[0].done(true);
  exporter.add(span(3));
  jest.advanceTimersByTime(999);
  expect(posted).toHaveLength(1);
  jest.advanceTimersByTime(1);
  expect(posted.map((p) => p.names)[1]).toEqual(['s3']);
});

test('one export in flight: the next batch waits for its answer', () => {
  const { exporter, posted, counts } = harness({ batchSize: 2, maxQueue: 100 });
  for (let i = 0; i < 5; i++) exporter.add(span(i));
  expect(posted).toHaveLength(1);
  posted[0].done(true);
  expect(posted.map((p) => p.names)).toEqual([
    ['s0', 's1'],
    ['s2', 's3'],
  ]);
  posted[1].done(true);
  expect(counts[SPANS_EXPORTED]).toBe(4);
  expect(exporter.pending).toBe(1);
});

test('a collector that does not answer: the queue stops at its bound and every span beyond is counted as dropped', () => {
  const { exporter, posted, counts } = harness({ batchSize: 10, maxQueue: 50 });
  for (let i = 0; i < 1000; i++) exporter.add(span(i));
  // One batch taken out (in flight, never answered), 50 held, the rest dropped.
  expect(posted).toHaveLength(1);
  expect(exporter.pending).toBe(50);
  expect(counts[SPANS_DROPPED_QUEUE_FULL]).toBe(1000 - 10 - 50);
});

test('a failed export counts its spans as dropped', () => {
  const { exporter, posted, counts } = harness({ batchSize: 2 });
  exporter.add(span(0));
  exporter.add(span(1));
  posted[0].done(false);
  expect(counts[SPANS_DROPPED_EXPORT_FAILED]).toBe(2);
  expect(counts[SPANS_EXPORTED]).toBeUndefined();
});

test('close sends what is queued and takes no more', () => {
  const { exporter, posted } = harness({ batchSize: 10 });
  exporter.add(span(0));
  exporter.close();
  exporter.add(span(1));
  expect(posted.map((p) => p.names)).toEqual([['s0']]);
});
