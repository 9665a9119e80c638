/**
 * HPACK's dynamic table (RFC 7541 §§ 2.3.2, 4): a FIFO of (name, value) bounded by the sum of
 * name + value + 32 over its entries. A ring of two string arrays, addressed by insertion number
 * (`id`), so adding and evicting never shift arrays and an encoder can remember an entry by its id.
 */

/** RFC 7541 §4.1: an entry's size is its name's and value's octets plus 32. */
export const ENTRY_OVERHEAD = 32;

export class HpackTable {
  /** Sum of the entries' sizes. */
  size = 0;
  /** The entries' allowed total (the last size update, or the initial setting). */
  maxSize: number;
  /** The id the next added entry gets; the newest entry is `nextId - 1`. */
  nextId = 0;
  /** The oldest entry still in the table. */
  oldestId = 0;
  private names: string[];
  private values: string[];
  /** A number per entry for the owner (the decoder keeps what it found wrong with the field). */
  private marks: number[];
  private mask: number;

  constructor(maxSize: number) {
    this.maxSize = maxSize;
    const capacity = ringCapacity(maxSize);
    this.names = new Array<string>(capacity).fill('');
    this.values = new Array<string>(capacity).fill('');
    this.marks = new Array<number>(capacity).fill(0);
    this.mask = capacity - 1;
  }

  get length(): number {
    return this.nextId - this.oldestId;
  }

  /** The name at dynamic position i (0 = newest; HPACK index 62 + i). The caller checks i < length. */
  name(i: number): string {
    return this.names[(this.nextId - 1 - i) & this.mask];
  }

  value(i: number): string {
    return this.values[(this.nextId - 1 - i) & this.mask];
  }

  mark(i: number): number {
    return this.marks[(this.nextId - 1 - i) & this.mask];
  }

  /** RFC 7541 §4.4: evict until the entry fits; an entry larger than the table empties it and is not added. */
  add(name: string, value: string, mark = 0): void {
    const entrySize = name.length + value.length + ENTRY_OVERHEAD;
    if (entrySize > this.maxSize) {
      this.evictTo(0);
      return;
    }
    this.evictTo(this.maxSize - entrySize);
    if (this.length > this.mask) this.grow(); // only when maxSize grew past the ring
    const slot = this.nextId++ & this.mask;
    this.names[slot] = name;
    this.values[slot] = value;
    this.marks[slot] = mark;
    this.size += entrySize;
  }

  /** A new maximum (a size update, RFC 7541 §4.3): evict down to it. */
  resize(maxSize: number): void {
    this.maxSize = maxSize;
    this.evictTo(maxSize);
  }

  /** Called for each evicted entry (an encoder forgets it here). */
  protected evicted(_name: string, _value: string, _id: number): void {}

  private evictTo(limit: number): void {
    while (this.size > limit) {
      const id = this.oldestId++;
      const slot = id & this.mask;
      const name = this.names[slot];
      const value = this.values[slot];
      this.size -= name.length + value.length + ENTRY_OVERHEAD;
      this.names[slot] = this.values[slot] = ''; // let the strings go
      this.evicted(name, value, id);
    }
  }

  private grow(): void {
    const capacity = (this.mask + 1) * 2;
    const names = new Array<string>(capacity).fill('');
    const values = new Array<string>(capacity).fill('');
    const marks = new Array<number>(capacity).fill(0);
    for (let id = this.oldestId; id < this.nextId; id++) {
      names[id & (capacity - 1)] = this.names[id & this.mask];
      values[id & (capacity - 1)] = this.values[id & this.mask];
      marks[id & (capacity - 1)] = this.marks[id & this.mask];
    }
    this.names = names;
    this.values = values;
    this.marks = marks;
    this.mask = capacity - 1;
  }
}

/** A power of two that holds the most entries maxSize allows (each at least 32: 128 for 4096), capped so a huge setting allocates lazily. */
function ringCapacity(maxSize: number): number {
  const most = Math.min(Math.floor(maxSize / ENTRY_OVERHEAD), 1024);
  let capacity = 8;
  while (capacity < most) capacity *= 2;
  return capacity;
}
