/** Trace context in and out: W3C traceparent/tracestate and B3 read, the sampling decision, the headers sent upstream. */
import { TraceIds } from '../../../../runtime/proxy/tracing/ids';
import {
  CARRIED_B3,
  CARRIED_B3_SINGLE,
  CARRIED_W3C,
  extract,
  parseB3Single,
  parseTraceparent,
  startContext,
  traceHeaderLines,
  traceHeaders,
} from '../../../../runtime/proxy/tracing/propagation';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';
const headers = (h: Record<string, string>) => ({ header: (n: string) => h[n] });
/** Ids from a counter, so each test knows them. */
const countingIds = () => {
  let n = 0;
  return new TraceIds((b) => b.fill(++n));
};
const never = () => {
  throw new Error('sampled although a decision came with the request');
};

describe('parseTraceparent (W3C Trace Context level 1)', () => {
  test.each([
    [`00-${TRACE}-${SPAN}-01`, { traceId: TRACE, spanId: SPAN, sampled: true }],
    [`00-${TRACE}-${SPAN}-00`, { traceId: TRACE, spanId: SPAN, sampled: false }],
    // Flags other than bit 0 do not decide sampling.
    [`00-${TRACE}-${SPAN}-02`, { traceId: TRACE, spanId: SPAN, sampled: false }],
    // A later version may append fields.
    [`01-${TRACE}-${SPAN}-01-extra`, { traceId: TRACE, spanId: SPAN, sampled: true }],
  ])('%s is read', (value, expected) => expect(parseTraceparent(value)).toEqual(expected));

  test.each([
    ['version ff', `ff-${TRACE}-${SPAN}-01`],
    ['an all-zero trace id', `00-${'0'.repeat(32)}-${SPAN}-01`],
    ['an all-zero span id', `00-${TRACE}-${'0'.repeat(16)}-01`],
    ['upper case', `00-${TRACE.toUpperCase()}-${SPAN}-01`],
    ['version 00 with more fields', `00-${TRACE}-${SPAN}-01-extra`],
    ['a short trace id', `00-${TRACE.slice(1)}-${SPAN}-01`],
    ['another separator', `00_${TRACE}_${SPAN}_01`],
  ])('%s is refused', (_, value) => expect(parseTraceparent(value)).toBeUndefined());
});

describe('extract and startContext', () => {
  test('a W3C parent: same trace, its span as parent, its decision kept, tracestate carried', () => {
    const t = startContext(
      extract(headers({ traceparent: `00-${TRACE}-${SPAN}-00`, tracestate: 'congo=t61rcWkgMzE' })),
      countingIds(),
      never,
    );
    expect(t).toMatchObject({ traceId: TRACE, parentId: SPAN, sampled: false, tracestate: 'congo=t61rcWkgMzE', carried: CARRIED_W3C });
    expect(t.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(t.spanId).not.toBe(SPAN);
  });

  test('no parent: a new trace, sampled by the random draw', () => {
    const yes = startContext(extract(headers({})), countingIds(), () => true);
    const no = startContext(extract(headers({})), countingIds(), () => false);
    expect(yes).toMatchObject({ parentId: '', sampled: true, tracestate: '', carried: 0 });
    expect(yes.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(no.sampled).toBe(false);
  });

  test('an invalid traceparent starts a new trace, and is replaced upstream', () => {
    const t = startContext(extract(headers({ traceparent: 'garbage' })), countingIds(), () => true);
    expect(t.parentId).toBe('');
    expect(t.carried).toBe(CARRIED_W3C);
  });

  test('B3 multi headers: a 64-bit trace id widened, the decision kept', () => {
    const t = startContext(
      extract(headers({ 'x-b3-traceid': 'a3ce929d0e0e4736', 'x-b3-spanid': SPAN, 'x-b3-sampled': '1' })),
      countingIds(),
      never,
    );
    expect(t).toMatchObject({ traceId: `${'0'.repeat(16)}a3ce929d0e0e4736`, parentId: SPAN, sampled: true, carried: CARRIED_B3 });
  });

  test('B3 debug flag samples; a lone x-b3-sampled: 0 decides without a trace', () => {
    expect(
      startContext(extract(headers({ 'x-b3-traceid': TRACE, 'x-b3-spanid': SPAN, 'x-b3-flags': '1' })), countingIds(), never).sampled,
    ).toBe(true);
    const t = startContext(extract(headers({ 'x-b3-sampled': '0' })), countingIds(), never);
    expect(t).toMatchObject({ parentId: '', sampled: false });
  });

  test('B3 without a decision: the random draw decides, in the B3 trace', () => {
    const t = startContext(extract(headers({ 'x-b3-traceid': TRACE, 'x-b3-spanid': SPAN })), countingIds(), () => true);
    expect(t).toMatchObject({ traceId: TRACE, parentId: SPAN, sampled: true });
  });

  test('W3C wins over B3 when both came', () => {
    const other = 'b'.repeat(32);
    const t = startContext(
      extract(
        headers({ traceparent: `00-${TRACE}-${SPAN}-01`, 'x-b3-traceid': other, 'x-b3-spanid': 'c'.repeat(16), 'x-b3-sampled': '0' }),
      ),
      countingIds(),
      never,
    );
    expect(t).toMatchObject({ traceId: TRACE, sampled: true, carried: CARRIED_W3C | CARRIED_B3 });
  });

  test('single b3 header', () => {
    expect(parseB3Single(`${TRACE}-${SPAN}-1-${'a'.repeat(16)}`)).toEqual({ traceId: TRACE, spanId: SPAN, sampled: true });
    expect(parseB3Single('0')).toEqual({ sampled: false });
    expect(parseB3Single('nonsense-x')).toBeUndefined();
    const t = startContext(extract(headers({ b3: `${TRACE}-${SPAN}` })), countingIds(), () => false);
    expect(t).toMatchObject({ traceId: TRACE, parentId: SPAN, sampled: false, carried: CARRIED_B3_SINGLE });
  });
});

describe('headers sent upstream', () => {
  const base = { traceId: TRACE, spanId: 'aaaaaaaaaaaaaaaa', parentId: SPAN, tracestate: '', carried: 0 };

  test('traceparent names the proxy span as parent, with the sampled flag', () => {
    expect(traceHeaders({ ...base, sampled: true })).toEqual([['traceparent', `00-${TRACE}-aaaaaaaaaaaaaaaa-01`]]);
    expect(traceHeaderLines({ ...base, sampled: false })).toBe(`traceparent: 00-${TRACE}-aaaaaaaaaaaaaaaa-00\r\n`);
  });

  test('tracestate and the B3 forms the client used go on, rewritten for this span', () => {
    const t = { ...base, sampled: true, tracestate: 'k=v', carried: CARRIED_W3C | CARRIED_B3 | CARRIED_B3_SINGLE };
    expect(Object.fromEntries(traceHeaders(t))).toEqual({
      traceparent: `00-${TRACE}-aaaaaaaaaaaaaaaa-01`,
      tracestate: 'k=v',
      'x-b3-traceid': TRACE,
      'x-b3-spanid': 'aaaaaaaaaaaaaaaa',
      'x-b3-parentspanid': SPAN,
      'x-b3-sampled': '1',
      b3: `${TRACE}-aaaaaaaaaaaaaaaa-1-${SPAN}`,
    });
    expect(traceHeaderLines(t)).toBe(
      traceHeaders(t)
        .map(([n, v]) => `${n}: ${v}\r\n`)
        .join(''),
    );
  });
});

describe('TraceIds', () => {
  test('hex of the right length, fresh draws after the pool is used up, never all zero', () => {
    let fills = 0;
    const ids = new TraceIds((b) => {
      fills++;
      // The first pool is all zeros: every id from it would be the invalid one.
      b.fill(fills === 1 ? 0 : 7);
    });
    expect(ids.traceId()).toBe('07'.repeat(16));
    expect(ids.spanId()).toBe('07'.repeat(8));
    expect(fills).toBe(2);
  });
});
