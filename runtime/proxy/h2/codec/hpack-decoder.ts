/**
 * HPACK decoder (RFC 7541): one complete header block (HEADERS + CONTINUATION, reassembled by the
 * codec) → a flat [name, value, …] list, in order, pseudo-headers as they came.
 *
 * Hot-path choices: static-indexed fields return the static table's own strings (no string work);
 * Huffman strings go through huffman.ts's byte table into a scratch buffer; a string of up to 8
 * bytes is built in JS, a longer one in one latin1 slice; integers and positions live in fields,
 * so a field allocates nothing but its strings.
 *
 * Never-indexed literals (RFC 7541 §7.1.3): their names are listed in `neverIndexed` for the block,
 * so a proxy re-encoding the fields passes them on as never-indexed (the RFC's MUST for intermediaries).
 *
 * Malformed fields (RFC 9113 §8.2.1) are not HPACK errors: the decoder sets `fieldFlags` from the
 * bytes it already holds (field-checks.ts), each dynamic entry keeping its own, and the codec refuses.
 *
 * Defences, each a COMPRESSION_ERROR (the caller ends the connection): an integer past 2^31 - 1 or
 * cut short, a string longer than the block, Huffman EOS or bad padding, index 0 or past both
 * tables, a size update above our setting or after a field, a missing size update after our setting
 * shrank (RFC 7541 §4.2).
 *
 * The header list limit (RFC 9113 §6.5.2 sizes, counted as fields are decoded, never after building
 * the list): once passed, the decoder stops collecting fields but decodes the block to its end, so the
 * dynamic table stays in sync with the peer's encoder; then it throws HeaderListTooLarge. The codec
 * must treat that as a stream error (431 / RST_STREAM) and may keep the connection: the next block
 * decodes correctly. The extra work is bounded by the block's length, which the codec bounds (its
 * own limit on a reassembled block): a bomb of repeated references to one large entry costs a few
 * operations per byte once the limit is passed, as no strings are copied for indexed fields.
 */
import { FIELD_INVALID_NAME, FIELD_UPPER_CASE_NAME, nameFlags, valueFlags } from './field-checks';
import { HeaderListTooLarge, HpackError } from './hpack-errors';
import { ENTRY_OVERHEAD, HpackTable } from './hpack-table';
import { STATIC_COUNT, STATIC_NAMES, STATIC_VALUES } from './hpack-static';
import { huffmanDecode } from './huffman';

export interface HpackDecoderOptions {
  /** Our SETTINGS_HEADER_TABLE_SIZE: the most the peer's size updates may set. @default 4096 */
  maxTableSize?: number;
  /** RFC 9113 §6.5.2's limit (Σ name + value + 32 over the list). @default 65536 */
  maxHeaderListSize?: number;
}

const MAX_INT = 0x7fffffff;
/** The flags that belong to a name (an entry's mark has its name's and its value's). */
const NAME_FLAGS = FIELD_UPPER_CASE_NAME | FIELD_INVALID_NAME;

/** Node's Buffer has latin1Slice (what toString('latin1') calls) without the encoding lookup; @types/node does not declare it. */
type Bytes = Buffer & { latin1Slice(start: number, end: number): string };
const EMPTY = Buffer.alloc(0) as Bytes;
/** Up to this many bytes, a string is built in JS rather than by latin1Slice (measured: bench/hpack.ts). */
const SHORT_STRING = 8;
/** The most scratch room a decoder keeps between blocks. */
const SCRATCH_KEPT = 64 * 1024;

export class HpackDecoder {
  /**
   * What the last decoded block's fields had wrong (field-checks.ts: FIELD_UPPER_CASE_NAME,
   * FIELD_INVALID_NAME, FIELD_INVALID_VALUE, or'ed), whether they came as literals or from the dynamic
   * table (each entry keeps its own): 0 for a well-formed list. The codec decides what to refuse.
   */
  fieldFlags = 0;
  /** The names of the last block's never-indexed literals (RFC 7541 §6.2.3), or undefined when none: pass them to the encoder's neverIndex. */
  neverIndexed: string[] | undefined = undefined;
  private readonly table: HpackTable;
  /** The flags of the last string read. */
  private stringFlags = 0;
  private settingMax: number;
  /** Our setting shrank below the table's size: the next block must start with a size update. */
  private sizeUpdateDue = false;
  private readonly maxListSize: number;
  private buf = EMPTY;
  private pos = 0;
  private scratch = Buffer.allocUnsafe(1024) as Bytes;

  constructor(opts: HpackDecoderOptions = {}) {
    this.settingMax = opts.maxTableSize ?? 4096;
    this.maxListSize = opts.maxHeaderListSize ?? 65536;
    this.table = new HpackTable(this.settingMax);
  }

  /** Our SETTINGS_HEADER_TABLE_SIZE, once the peer acknowledged it. */
  setMaxTableSize(n: number): void {
    this.settingMax = n;
    if (n < this.table.maxSize) this.sizeUpdateDue = true;
  }

  /** A name with an upper-case letter in the last block (RFC 9113 §8.2.1: malformed). */
  get upperCaseName(): boolean {
    return (this.fieldFlags & FIELD_UPPER_CASE_NAME) !== 0;
  }

  /** The dynamic table's current size and maximum (for tests and diagnostics). */
  get tableSize(): { size: number; maxSize: number; entries: number } {
    return { size: this.table.size, maxSize: this.table.maxSize, entries: this.table.length };
  }

  decode(block: Uint8Array, start = 0, end = block.length): string[] {
    const buf = (Buffer.isBuffer(block) ? block : Buffer.from(block.buffer, block.byteOffset, block.byteLength)) as Bytes;
    if (start < 0 || end > buf.length || start > end)
      throw new RangeError(`HPACK: block [${start}, ${end}) outside its ${buf.length} bytes`);
    this.buf = buf;
    this.pos = start;
    let flags = 0;
    this.neverIndexed = undefined;
    const out: string[] = [];
    let listSize = 0;
    let tooLarge = false;
    let fieldSeen = false;
    const table = this.table;
    while (this.pos < end) {
      const b = buf[this.pos];
      let name: string;
      let value: string;
      if (b & 0x80) {
        // Indexed field (§6.1)
        const index = b !== 0xff ? (this.pos++, b & 0x7f) : this.integer(7, end);
        if (index === 0) throw new HpackError('index 0');
        if (index <= STATIC_COUNT) {
          name = STATIC_NAMES[index];
          value = STATIC_VALUES[index];
        } else {
          const i = index - STATIC_COUNT - 1;
          if (i >= table.length) throw new HpackError(`index ${index} past the tables`);
          name = table.name(i);
          value = table.value(i);
          flags |= table.mark(i);
        }
      } else if ((b & 0xe0) === 0x20) {
        // Dynamic table size update (§6.3): only before the first field
        if (fieldSeen) throw new HpackError('table size update after a field');
        const size = this.integer(5, end);
        if (size > this.settingMax) throw new HpackError(`table size update to ${size} above our ${this.settingMax}`);
        table.resize(size);
        this.sizeUpdateDue = false;
        continue;
      } else {
        // Literal (§6.2): with incremental indexing 01, without 0000, never indexed 0001
        const indexing = (b & 0xc0) === 0x40;
        const prefix = indexing ? 6 : 4;
        const nameIndex = b & (indexing ? 0x3f : 0x0f);
        let fieldFlags = 0;
        if (nameIndex === 0) {
          this.pos++;
          name = this.string(end, true);
          fieldFlags = this.stringFlags;
        } else {
          const index = nameIndex < (1 << prefix) - 1 ? (this.pos++, nameIndex) : this.integer(prefix, end);
          if (index <= STATIC_COUNT) name = STATIC_NAMES[index];
          else {
            const i = index - STATIC_COUNT - 1;
            if (i >= table.length) throw new HpackError(`name index ${index} past the tables`);
            name = table.name(i);
            fieldFlags = table.mark(i) & NAME_FLAGS;
          }
        }
        value = this.string(end, false);
        fieldFlags |= this.stringFlags;
        flags |= fieldFlags;
        if (indexing) table.add(name, value, fieldFlags);
        else if (b & 0x10) (this.neverIndexed ??= []).push(name);
      }
      if (this.sizeUpdateDue) throw new HpackError('no table size update after our setting shrank');
      fieldSeen = true;
      if (tooLarge) continue;
      listSize += name.length + value.length + ENTRY_OVERHEAD;
      if (listSize > this.maxListSize) {
        tooLarge = true;
        out.length = 0;
        continue;
      }
      out.push(name, value);
    }
    this.buf = EMPTY;
    if (this.scratch.length > SCRATCH_KEPT) this.scratch = Buffer.allocUnsafe(1024) as Bytes; // a huge literal's room is not kept per connection
    this.fieldFlags = flags;
    if (tooLarge) throw new HeaderListTooLarge(listSize, this.maxListSize);
    return out;
  }

  /** An integer with an N-bit prefix at this.pos (§5.1), at most 2^31 - 1; moves pos past it. */
  private integer(prefix: number, end: number): number {
    const buf = this.buf;
    const max = (1 << prefix) - 1;
    let value = buf[this.pos++] & max;
    if (value < max) return value;
    for (let shift = 0; ; shift += 7) {
      if (this.pos >= end) throw new HpackError('integer cut short');
      if (shift > 28) throw new HpackError('integer too long');
      const b = buf[this.pos++];
      value += (b & 0x7f) * 2 ** shift;
      if (value > MAX_INT) throw new HpackError('integer past 2^31 - 1');
      if (!(b & 0x80)) return value;
    }
  }

  /** A string literal at this.pos (§5.2), plain or Huffman-coded, as latin1. */
  private string(end: number, isName: boolean): string {
    if (this.pos >= end) throw new HpackError('string cut short');
    const huffman = (this.buf[this.pos] & 0x80) !== 0;
    const length = this.integer(7, end);
    const from = this.pos;
    const to = from + length;
    if (to > end) throw new HpackError('string longer than the block');
    this.pos = to;
    if (!huffman) {
      this.stringFlags = isName ? nameFlags(this.buf, from, to) : valueFlags(this.buf, from, to);
      return latin1(this.buf, from, to);
    }
    const most = Math.ceil((length * 8) / 5);
    if (this.scratch.length < most) this.scratch = Buffer.allocUnsafe(Math.max(most, this.scratch.length * 2)) as Bytes;
    const n = huffmanDecode(this.buf, from, to, this.scratch, 0);
    this.stringFlags = isName ? nameFlags(this.scratch, 0, n) : valueFlags(this.scratch, 0, n);
    return latin1(this.scratch, 0, n);
  }
}

/** Bytes as a latin1 string: short ones char by char (a native call costs more than that here), longer ones in one slice. */
function latin1(bytes: Bytes, from: number, to: number): string {
  if (to - from > SHORT_STRING) return bytes.latin1Slice(from, to);
  let s = '';
  for (let i = from; i < to; i++) s += String.fromCharCode(bytes[i]);
  return s;
}
