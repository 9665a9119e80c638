/**
 * The server name a TLS client asks for, read from its ClientHello without terminating TLS (a
 * gateway's PASSTHROUGH servers route by it). Pure; bounded: a hello over 16 KB is refused.
 */

export type SniResult =
  | { readonly done: false }
  | { readonly done: true; readonly serverName?: string }
  | { readonly done: true; readonly error: string };

const MAX_HELLO = 16 * 1024;

/** Reads `buf` (the first bytes of a connection): not done yet, the name (absent when the client sent none), or why it is not a ClientHello. */
export function readSni(buf: Buffer): SniResult {
  if (buf.length < 5) return { done: false };
  if (buf[0] !== 0x16) return { done: true, error: 'not a TLS handshake' };
  const recordLength = buf.readUInt16BE(3);
  if (recordLength > MAX_HELLO) return { done: true, error: 'ClientHello too large' };
  if (buf.length < 5 + recordLength) return { done: false };
  const hello = buf.subarray(5, 5 + recordLength);
  if (hello[0] !== 0x01) return { done: true, error: 'not a ClientHello' };
  // type(1) length(3) version(2) random(32)
  let at = 4 + 2 + 32;
  const need = (n: number) => at + n <= hello.length;
  if (!need(1)) return { done: true, error: 'truncated ClientHello' };
  at += 1 + hello[at]; // session id
  if (!need(2)) return { done: true, error: 'truncated ClientHello' };
  at += 2 + hello.readUInt16BE(at); // cipher suites
  if (!need(1)) return { done: true, error: 'truncated ClientHello' };
  at += 1 + hello[at]; // compression methods
  if (!need(2)) return { done: true }; // no extensions: no name
  const end = Math.min(hello.length, at + 2 + hello.readUInt16BE(at));
  at += 2;
  while (at + 4 <= end) {
    const type = hello.readUInt16BE(at);
    const length = hello.readUInt16BE(at + 2);
    at += 4;
    if (at + length > end) return { done: true, error: 'truncated extension' };
    if (type === 0x0000) {
      // server_name: list length(2), then entries of type(1) length(2) name
      let p = at + 2;
      while (p + 3 <= at + length) {
        const nameType = hello[p];
        const nameLength = hello.readUInt16BE(p + 1);
        p += 3;
        if (p + nameLength > at + length) return { done: true, error: 'truncated server_name' };
        if (nameType === 0) return { done: true, serverName: hello.toString('latin1', p, p + nameLength).toLowerCase() };
        p += nameLength;
      }
      return { done: true };
    }
    at += length;
  }
  return { done: true };
}
