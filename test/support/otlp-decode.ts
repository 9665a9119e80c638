/**
 * A reference reader of OTLP protobuf for the tests, independent of the encoder under test: a generic
 * wire-format walk (@bufbuild/protobuf's BinaryReader) into fields by number, then the few messages
 * mast sends, named by the field numbers of opentelemetry-proto's logs.proto, trace.proto, common.proto
 * and resource.proto. Unknown fields are kept (and would show in `fields`), never skipped silently.
 */
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';

/** A field's raw values: varints and fixed64 as bigint, length-delimited as bytes. */
type Raw = bigint | number | Uint8Array;
export type Fields = Map<number, Raw[]>;

export function fields(buf: Uint8Array): Fields {
  const out: Fields = new Map();
  const r = new BinaryReader(buf);
  while (r.pos < r.len) {
    const [no, type] = r.tag();
    let v: Raw;
    if (type === WireType.Varint) v = BigInt(r.uint64());
    else if (type === WireType.Bit64) v = BigInt(r.fixed64());
    else if (type === WireType.LengthDelimited) v = r.bytes();
    else if (type === WireType.Bit32) v = r.fixed32();
    else throw new Error(`wire type ${type} of field ${no}: mast sends none`);
    out.set(no, [...(out.get(no) ?? []), v]);
  }
  return out;
}

const all = (f: Fields, no: number) => (f.get(no) ?? []) as Uint8Array[];
const one = (f: Fields, no: number) => f.get(no)?.[0];
const text = (b: Raw | undefined) => (b === undefined ? undefined : Buffer.from(b as Uint8Array).toString('utf8'));
const hex = (b: Raw | undefined) => (b === undefined ? undefined : Buffer.from(b as Uint8Array).toString('hex'));

/** common.v1.AnyValue: string_value 1 only (mast sends strings). */
const anyString = (b: Uint8Array) => text(one(fields(b), 1));

/** repeated common.v1.KeyValue (key 1, value 2) as [key, string value] pairs, in order. */
const keyValues = (list: Uint8Array[]) =>
  list.map((kv) => {
    const f = fields(kv);
    return [text(one(f, 1)) ?? '', anyString(one(f, 2) as Uint8Array)] as [string, string | undefined];
  });

export interface DecodedLogRecord {
  timeUnixNano: bigint;
  body?: string;
  attributes: Array<[string, string | undefined]>;
  traceId?: string;
  spanId?: string;
  /** Field numbers present, to show nothing else was sent. */
  fieldNumbers: number[];
}

/** ExportLogsServiceRequest → each ResourceLogs' resource attributes and its records (all scopes). */
export function decodeLogsRequest(buf: Uint8Array): Array<{ resource: Array<[string, string | undefined]>; records: DecodedLogRecord[] }> {
  return all(fields(buf), 1).map((rl) => {
    const f = fields(rl);
    const resource = one(f, 1);
    return {
      resource: resource ? keyValues(all(fields(resource as Uint8Array), 1)) : [],
      records: all(f, 2).flatMap((sl) =>
        all(fields(sl), 2).map((lr) => {
          const r = fields(lr);
          const body = one(r, 5);
          return {
            timeUnixNano: one(r, 1) as bigint,
            ...(body ? { body: anyString(body as Uint8Array) } : {}),
            attributes: keyValues(all(r, 6)),
            ...(r.has(9) ? { traceId: hex(one(r, 9)) } : {}),
            ...(r.has(10) ? { spanId: hex(one(r, 10)) } : {}),
            fieldNumbers: [...r.keys()].sort((a, b) => a - b),
          };
        }),
      ),
    };
  });
}

export interface DecodedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  traceState?: string;
  name: string;
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Array<[string, string | undefined]>;
  statusCode?: number;
}

/** ExportTraceServiceRequest → each ResourceSpans' resource attributes, scope name and spans. */
export function decodeTraceRequest(
  buf: Uint8Array,
): Array<{ resource: Array<[string, string | undefined]>; scopes: Array<{ name?: string; spans: DecodedSpan[] }> }> {
  return all(fields(buf), 1).map((rs) => {
    const f = fields(rs);
    const resource = one(f, 1);
    return {
      resource: resource ? keyValues(all(fields(resource as Uint8Array), 1)) : [],
      scopes: all(f, 2).map((ss) => {
        const s = fields(ss);
        const scope = one(s, 1);
        return {
          ...(scope ? { name: text(one(fields(scope as Uint8Array), 1)) } : {}),
          spans: all(s, 2).map((b) => {
            const m = fields(b);
            const status = one(m, 15);
            const code = status ? one(fields(status as Uint8Array), 3) : undefined;
            return {
              traceId: hex(one(m, 1))!,
              spanId: hex(one(m, 2))!,
              ...(m.has(4) ? { parentSpanId: hex(one(m, 4)) } : {}),
              ...(m.has(3) ? { traceState: text(one(m, 3)) } : {}),
              name: text(one(m, 5))!,
              kind: Number(one(m, 6)),
              startTimeUnixNano: one(m, 7) as bigint,
              endTimeUnixNano: one(m, 8) as bigint,
              attributes: keyValues(all(m, 9)),
              ...(code !== undefined ? { statusCode: Number(code) } : {}),
            };
          }),
        };
      }),
    };
  });
}
