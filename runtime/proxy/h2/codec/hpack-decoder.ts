/**
 * HPACK decoder (RFC 7541): one complete header block (HEADERS + CONTINUATION, reassembled by the
 * codec) → a flat [name, value, …] list, in order, pseudo-headers as they came.
 *
 * Hot-path choices: static-indexed fields return the static table's own strings (no string work);
 * Huffman strings go through huffman.ts's nibble table into a scratch buffer, then one latin1 slice;
 * integers and positions live in fields, so a field allocates nothing but its strings.
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

/** Node's Buffer has latin1Slice (what toString('latin1') calls) without the encoding lookup; @types/node does not declare it. */
type Bytes = Buffer & { latin1Slice(start: number, end: number): string };
const EMPTY = Buffer.alloc(0) as Bytes;

export class HpackDecoder {
  /**
   * True when the last decoded block had a name with an upper-case ASCII letter, literal or from the
   * dynamic table: a malformed request or response in HTTP/2 (RFC 9113 §8.2.1); the codec decides.
   */
  upperCaseName = false;
  private readonly table: DecoderTable;
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
    this.table = new DecoderTable(this.settingMax);
  }

  /** Our SETTINGS_HEADER_TABLE_SIZE, once the peer acknowledged it. */
  setMaxTableSize(n: number): void {
    this.settingMax = n;
    if (n < this.table.maxSize) this.sizeUpdateDue = true;
  }

  /** The dynamic table's current size and maximum (for tests and diagnostics). */
  get tableSize(): { size: number; maxSize: number; entries: number } {
    return { size: this.table.size, maxSize: this.table.maxSize, entries: this.table.length };
  }

  decode(block: Uint8Array, start = 0, end = block.length): string[] {
    const buf = (Buffer.isBuffer(block) ? block : Buffer.from(block.buffer, block.byteOffset, block.byteLength)) as Bytes;
    this.buf = buf;
    this.pos = start;
    this.upperCaseName = false;
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
          if (table.upperCaseNames > 0 && hasUpperCaseChar(name)) this.upperCaseName = true;
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
        if (nameIndex === 0) {
          this.pos++;
          name = this.string(end, true);
        } else {
          const index = nameIndex < (1 << prefix) - 1 ? (this.pos++, nameIndex) : this.integer(prefix, end);
          if (index <= STATIC_COUNT) name = STATIC_NAMES[index];
          else {
            const i = index - STATIC_COUNT - 1;
            if (i >= table.length) throw new HpackError(`name index ${index} past the tables`);
            name = table.name(i);
            if (table.upperCaseNames > 0 && hasUpperCaseChar(name)) this.upperCaseName = true;
          }
        }
        value = this.string(end, false);
        if (indexing) table.add(name, value);
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
      if (isName && hasUpperCase(this.buf, from, to)) this.upperCaseName = true;
      return this.buf.latin1Slice(from, to);
    }
    const most = Math.ceil((length * 8) / 5);
    if (this.scratch.length < most) this.scratch = Buffer.allocUnsafe(Math.max(most, this.scratch.length * 2)) as Bytes;
    const n = huffmanDecode(this.buf, from, to, this.scratch, 0);
    if (isName && hasUpperCase(this.scratch, 0, n)) this.upperCaseName = true;
    return this.scratch.latin1Slice(0, n);
  }
}

/** The dynamic table, counting its names with upper-case letters (so a lookup checks names only while there are any). */
class DecoderTable extends HpackTable {
  upperCaseNames = 0;

  override add(name: string, value: string): void {
    const id = this.nextId;
    super.add(name, value);
    if (this.nextId !== id && hasUpperCaseChar(name)) this.upperCaseNames++;
  }

  protected override evicted(name: string): void {
    if (this.upperCaseNames > 0 && hasUpperCaseChar(name)) this.upperCaseNames--;
  }
}

function hasUpperCaseChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) return true;
  }
  return false;
}

function hasUpperCase(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = bytes[i];
    if (c >= 0x41 && c <= 0x5a) return true;
  }
  return false;
}
