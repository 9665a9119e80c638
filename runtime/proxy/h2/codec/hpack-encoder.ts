/**
 * HPACK encoder (RFC 7541): a flat [name, value, …] list (names lower-case, strings latin1) → one
 * header block, written for the frame writer (encodeInto avoids a copy).
 *
 * Representation, per field: a full match in the static table, then in the dynamic table → one
 * indexed byte (or a few); else a literal whose name is indexed when either table has the name
 * (static preferred: its index never moves).
 *
 * Strings are plain by default, Huffman-coded (where shorter) only with `huffman: true`. Measured
 * (bench/hpack.ts, CPU time, side by side, on a loaded 2-core machine): a mesh request on a warm
 * connection, whose :path and x-request-id are literals, cost the encoder ~0.6–0.7 × with plain
 * strings and a decoder ~0.6 ×, some 300–500 ns less per request for both sides together, for 17
 * more bytes (76 instead of 59); blocks of indexed fields
 * (most of a warm connection's) are the same either way. A proxy's HEADERS travel on loopback or
 * in-cluster links, where CPU per request is the budget and 17 bytes are not (nghttp2 and Envoy
 * Huffman-code whenever shorter; a gateway facing slow client links may want `huffman: true`).
 *
 * What goes into the dynamic table follows nghttp2's deflater (Envoy's HTTP/2 codec for years, and
 * node:http2's): fields are indexed except
 * - values unique per request or response, which would only push useful entries out: `:path`,
 *   `content-length`, `age`, `etag`, `if-modified-since`, `if-none-match`, `location`, `set-cookie`
 *   (nghttp2's list), plus the tracing ids mast forwards (`x-request-id`, `traceparent`, B3 ids);
 * - an entry larger than 3/4 of the table (it would evict nearly everything, nghttp2's rule too);
 * - sensitive fields, sent as never-indexed literals so no intermediary indexes them either
 *   (RFC 7541 §7.1.3): `authorization` and a `cookie` shorter than 20 bytes (short enough to guess),
 *   as nghttp2 does, plus `proxy-authorization`, and every name the caller passes in `neverIndex`
 *   (a proxy passes the decoder's `neverIndexed`: fields that came never-indexed leave so).
 * So `:authority`, `user-agent`, `content-type`, `:method` POST, `te`, `grpc-*` heads and statuses are
 * indexed: on a connection's second request they cost a byte each.
 */
import { ENTRY_OVERHEAD, HpackTable } from './hpack-table';
import { STATIC_COUNT, STATIC_NAMES, STATIC_VALUES } from './hpack-static';
import { huffmanEncode, huffmanLength } from './huffman';

export interface HpackEncoderOptions {
  /** The most dynamic table this encoder uses, whatever the peer allows. @default 4096 */
  maxTableSize?: number;
  /** Huffman-code a string when that makes it shorter (smaller blocks, more CPU on both sides; see above). @default false */
  huffman?: boolean;
}

/** The initial SETTINGS_HEADER_TABLE_SIZE (RFC 9113 §6.5.2): the peer's table before its SETTINGS. */
const DEFAULT_TABLE_SIZE = 4096;

/** How a name's fields go into the dynamic table. */
enum Mode {
  Index,
  NoIndex,
  Never,
  /** never-indexed when shorter than SHORT_COOKIE, else indexed */
  Cookie,
}
const NOT_INDEXED = [':path', 'content-length', 'age', 'etag', 'if-modified-since', 'if-none-match', 'location', 'set-cookie'];
const PER_REQUEST_IDS = ['x-request-id', 'traceparent', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid'];
const SENSITIVE = ['authorization', 'proxy-authorization'];
const SHORT_COOKIE = 20;

interface NameInfo {
  /** The name's first static index, or 0. */
  index: number;
  /** Its static values → index. */
  values: Map<string, number> | undefined;
  mode: Mode;
}

/** Everything the encoder knows about a name before looking at the connection's table: one lookup per field. */
const NAMES: ReadonlyMap<string, NameInfo> = (() => {
  const names = new Map<string, NameInfo>();
  const info = (name: string) => {
    let entry = names.get(name);
    if (!entry) names.set(name, (entry = { index: 0, values: undefined, mode: Mode.Index }));
    return entry;
  };
  for (let i = 1; i <= STATIC_COUNT; i++) {
    const entry = info(STATIC_NAMES[i]);
    if (entry.index === 0) entry.index = i;
    entry.values ??= new Map();
    if (!entry.values.has(STATIC_VALUES[i])) entry.values.set(STATIC_VALUES[i], i);
  }
  for (const name of [...NOT_INDEXED, ...PER_REQUEST_IDS]) info(name).mode = Mode.NoIndex;
  for (const name of SENSITIVE) info(name).mode = Mode.Never;
  info('cookie').mode = Mode.Cookie;
  return names;
})();

/** The most bytes a field's integers can add to its strings (a name index and two lengths, each ≤ 6 bytes for 2^31). */
const FIELD_OVERHEAD = 18;
/** Two size updates at a block's start. */
const UPDATES_OVERHEAD = 12;
/** The most scratch room an encoder keeps between blocks. */
const SCRATCH_KEPT = 64 * 1024;

type Bytes = Buffer & { latin1Write(s: string, offset: number, length: number): number };

/** The encoder's copy of the peer's dynamic table, with the lookups that find an entry by name (and value). */
class EncoderTable extends HpackTable {
  readonly pairIds = new Map<string, Map<string, number>>();
  readonly nameIds = new Map<string, number>();

  override add(name: string, value: string): void {
    const id = this.nextId;
    super.add(name, value, 0);
    if (this.nextId === id) return; // larger than the table: not added
    let values = this.pairIds.get(name);
    if (!values) this.pairIds.set(name, (values = new Map()));
    values.set(value, id);
    this.nameIds.set(name, id);
  }

  /** The HPACK index of the entry with this id (62 for the newest). */
  index(id: number): number {
    return STATIC_COUNT + this.nextId - id;
  }

  protected override evicted(name: string, value: string, id: number): void {
    const values = this.pairIds.get(name);
    if (values?.get(value) === id) {
      values.delete(value);
      if (values.size === 0) this.pairIds.delete(name);
    }
    if (this.nameIds.get(name) === id) this.nameIds.delete(name);
  }
}

export class HpackEncoder {
  private readonly table: EncoderTable;
  private readonly cap: number;
  /** Size updates owed at the next block's start (RFC 7541 §4.2): the smallest since the last block, then the final. */
  private updateMin = -1;
  private updateFinal = -1;
  private scratch = Buffer.allocUnsafe(4096) as Bytes;
  private readonly huffman: boolean;

  constructor(opts: HpackEncoderOptions = {}) {
    this.cap = opts.maxTableSize ?? DEFAULT_TABLE_SIZE;
    this.huffman = opts.huffman ?? false;
    const size = Math.min(this.cap, DEFAULT_TABLE_SIZE);
    this.table = new EncoderTable(size);
    if (size !== DEFAULT_TABLE_SIZE) this.updateMin = this.updateFinal = size;
  }

  /** The peer's SETTINGS_HEADER_TABLE_SIZE: the next block starts with the size update(s). */
  setMaxTableSize(n: number): void {
    const size = Math.min(n, this.cap);
    if (size === this.table.maxSize && this.updateFinal < 0) return;
    this.updateMin = this.updateMin < 0 ? size : Math.min(this.updateMin, size);
    this.updateFinal = size;
    this.table.resize(size);
  }

  encode(headers: readonly string[], neverIndex?: ReadonlySet<string>): Buffer {
    const bound = blockBound(headers);
    if (this.scratch.length < bound) this.scratch = Buffer.allocUnsafe(Math.max(bound, this.scratch.length * 2)) as Bytes;
    const end = this.write(headers, this.scratch, 0, neverIndex);
    const block = Buffer.allocUnsafe(end);
    if (end <= 16) for (let i = 0; i < end; i++) block[i] = this.scratch[i];
    else this.scratch.copy(block, 0, 0, end);
    if (this.scratch.length > SCRATCH_KEPT) this.scratch = Buffer.allocUnsafe(4096) as Bytes; // not kept per connection
    return block;
  }

  /**
   * Writes the block into out at offset when its worst-case length fits (each string no longer than
   * plain, integers at their longest), and returns the end; else -1, with nothing written and the
   * table untouched (so the caller can fall back to encode()).
   */
  encodeInto(headers: readonly string[], out: Buffer, offset: number, neverIndex?: ReadonlySet<string>): number {
    if (offset + blockBound(headers) > out.length) return -1;
    return this.write(headers, out as Bytes, offset, neverIndex);
  }

  private write(headers: readonly string[], out: Bytes, offset: number, neverIndex?: ReadonlySet<string>): number {
    let p = offset;
    if (this.updateFinal >= 0) {
      if (this.updateMin < this.updateFinal) p = writeInteger(out, p, this.updateMin, 5, 0x20);
      p = writeInteger(out, p, this.updateFinal, 5, 0x20);
      this.updateMin = this.updateFinal = -1;
    }
    const table = this.table;
    for (let h = 0; h + 1 < headers.length; h += 2) {
      const name = headers[h];
      const value = headers[h + 1];
      const info = NAMES.get(name);
      let mode = info === undefined ? Mode.Index : info.mode;
      if (mode === Mode.Cookie) mode = value.length < SHORT_COOKIE ? Mode.Never : Mode.Index;
      if (neverIndex?.has(name)) mode = Mode.Never;
      if (mode !== Mode.Never) {
        const full = info?.values?.get(value);
        if (full !== undefined) {
          p = writeInteger(out, p, full, 7, 0x80);
          continue;
        }
        if (table.length > 0) {
          const id = table.pairIds.get(name)?.get(value);
          if (id !== undefined) {
            p = writeInteger(out, p, table.index(id), 7, 0x80);
            continue;
          }
        }
      }
      if (mode === Mode.Index && (name.length + value.length + ENTRY_OVERHEAD) * 4 > table.maxSize * 3) mode = Mode.NoIndex;
      const flags = mode === Mode.Index ? 0x40 : mode === Mode.Never ? 0x10 : 0x00;
      const prefix = mode === Mode.Index ? 6 : 4;
      let nameIndex = info === undefined ? 0 : info.index;
      if (nameIndex === 0 && table.length > 0) {
        const id = table.nameIds.get(name);
        if (id !== undefined) nameIndex = table.index(id);
      }
      if (nameIndex !== 0) p = writeInteger(out, p, nameIndex, prefix, flags);
      else {
        out[p++] = flags;
        p = writeString(out, p, name, this.huffman);
      }
      p = writeString(out, p, value, this.huffman);
      if (mode === Mode.Index) table.add(name, value);
    }
    return p;
  }
}

function blockBound(headers: readonly string[]): number {
  let bound = UPDATES_OVERHEAD;
  for (let h = 0; h + 1 < headers.length; h += 2) bound += headers[h].length + headers[h + 1].length + FIELD_OVERHEAD;
  return bound;
}

/** RFC 7541 §5.1: value with an N-bit prefix, the first byte's other bits `flags`. */
function writeInteger(out: Uint8Array, p: number, value: number, prefix: number, flags: number): number {
  const max = (1 << prefix) - 1;
  if (value < max) {
    out[p++] = flags | value;
    return p;
  }
  out[p++] = flags | max;
  let rest = value - max;
  while (rest >= 0x80) {
    out[p++] = (rest & 0x7f) | 0x80;
    rest >>>= 7;
  }
  out[p++] = rest;
  return p;
}

/** RFC 7541 §5.2: Huffman-coded when shorter, else the latin1 bytes. */
function writeString(out: Bytes, p: number, s: string, useHuffman: boolean): number {
  const length = s.length;
  const huffman = useHuffman && length > 0 ? huffmanLength(s) : length;
  if (huffman < length) return huffmanEncode(s, out, writeInteger(out, p, huffman, 7, 0x80));
  p = writeInteger(out, p, length, 7, 0);
  if (length < 32) for (let i = 0; i < length; i++) out[p++] = s.charCodeAt(i);
  else p += out.latin1Write(s, p, length);
  return p;
}
