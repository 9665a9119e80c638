/**
 * What RFC 9113 §8.2.1 makes a malformed field, found on the bytes while HPACK decodes them (a scan
 * of bytes already in hand is cheaper than one over the strings later). The decoder reports; the
 * codec decides (a malformed request is a stream error, RFC 9113 §8.1.1).
 */

/** A name with an upper-case ASCII letter. */
export const FIELD_UPPER_CASE_NAME = 1;
/** A name that is empty or has a byte outside RFC 9110's token characters (a ':' only as its first byte). */
export const FIELD_INVALID_NAME = 2;
/** A value with NUL, CR or LF, or that starts or ends with a space or tab. */
export const FIELD_INVALID_VALUE = 4;

/** By byte: 0 a lower-case token character, else the flag it raises in a name. */
const NAME_CLASS = (() => {
  const table = new Uint8Array(256).fill(FIELD_INVALID_NAME);
  for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") table[c.charCodeAt(0)] = 0;
  for (let c = 0x41; c <= 0x5a; c++) table[c] = FIELD_UPPER_CASE_NAME;
  return table;
})();

/** The flags a name's bytes raise. */
export function nameFlags(bytes: Uint8Array, from: number, to: number): number {
  if (from === to) return FIELD_INVALID_NAME;
  let flags = 0;
  for (let i = bytes[from] === 0x3a ? from + 1 : from; i < to; i++) flags |= NAME_CLASS[bytes[i]];
  return flags;
}

/** The flags a value's bytes raise. */
export function valueFlags(bytes: Uint8Array, from: number, to: number): number {
  if (from === to) return 0;
  const first = bytes[from];
  const last = bytes[to - 1];
  if (first === 0x20 || first === 0x09 || last === 0x20 || last === 0x09) return FIELD_INVALID_VALUE;
  for (let i = from; i < to; i++) {
    const c = bytes[i];
    if (c <= 0x0d && (c === 0 || c === 0x0a || c === 0x0d)) return FIELD_INVALID_VALUE;
  }
  return 0;
}
