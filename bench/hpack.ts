/**
 * Microbenchmark: ns per HPACK decode and encode of the blocks mast's HTTP/2 codec handles most, in
 * steady state (the connection's tables already warm, as from its second request on):
 * - h2load's request (what bench/h2.mjs sends), all fields indexed after the first request;
 * - a mesh request: the same plus a per-request :path and x-request-id (literals, Huffman-coded);
 * - a gRPC response head and its trailers.
 * `npx ts-node --swc bench/hpack.ts` (one core, ~30 s): CPU ns per call, columns side by side in
 * alternating rounds, medians, ratios to the first. With HPACK_JS=<dir of an installed hpack.js>
 * (`npm install --prefix /tmp/hpackjs hpack.js`, not a dependency of mast) the same blocks go through
 * that pure-JS HPACK too. CONTROL=1 adds mast again as a last column: how far apart two identical
 * columns come out (the noise floor of the run). callgrind instruction counts were tried for these
 * operations and were not linear in the number of calls (V8's compiling under valgrind), so not used.
 */
import { HpackDecoder } from '../runtime/proxy/h2/codec/hpack-decoder';
import { HpackEncoder } from '../runtime/proxy/h2/codec/hpack-encoder';

const H2LOAD = [':method', 'GET', ':path', '/', ':scheme', 'http', ':authority', '127.0.0.1:18080'];
H2LOAD.push('accept-encoding', 'gzip, deflate', 'user-agent', 'h2load nghttp2/1.64.0');
const MESH = [':method', 'GET', ':scheme', 'https', ':authority', 'reviews.default.svc.cluster.local:9080'];
MESH.push(':path', '/reviews/0?page=2', 'user-agent', 'Go-http-client/2.0', 'accept', 'application/json');
MESH.push('x-request-id', '4b0c9a3e-2f1d-4c8e-9a7b-3c2d1e0f9a8b', 'x-forwarded-proto', 'https');
const GRPC_HEAD = [':status', '200', 'content-type', 'application/grpc', 'grpc-accept-encoding', 'identity,deflate,gzip'];
const GRPC_TRAILERS = ['grpc-status', '0', 'grpc-message', ''];

interface Codec {
  name: string;
  /** A function that encodes `headers` once more on a warm connection. */
  encoder(headers: string[]): () => unknown;
  /** A function that decodes the warm connection's block once more. */
  decoder(headers: string[]): () => unknown;
}

const mast = (huffman: boolean): Codec => ({
  name: huffman ? 'mast huff' : 'mast',
  encoder(headers) {
    const encoder = new HpackEncoder({ huffman });
    encoder.encode(headers);
    return () => encoder.encode(headers);
  },
  decoder(headers) {
    const encoder = new HpackEncoder({ huffman });
    const decoder = new HpackDecoder();
    decoder.decode(encoder.encode(headers));
    const block = encoder.encode(headers);
    return () => decoder.decode(block);
  },
});

function hpackJs(dir: string): Codec {
  const hpack = require(dir);
  const fields = (headers: string[]) => {
    const list = [];
    for (let i = 0; i < headers.length; i += 2) list.push({ name: headers[i], value: headers[i + 1] });
    return list;
  };
  const encodeWith = (comp: any, list: unknown[]) => {
    comp.write(list);
    return comp.read();
  };
  return {
    name: 'hpack.js',
    encoder(headers) {
      const comp = hpack.compressor.create({ table: { size: 4096 } });
      const list = fields(headers);
      encodeWith(comp, list);
      return () => encodeWith(comp, list);
    },
    decoder(headers) {
      const comp = hpack.compressor.create({ table: { size: 4096 } });
      const decomp = hpack.decompressor.create({ table: { size: 4096 } });
      const list = fields(headers);
      const decode = (block: Buffer) => {
        decomp.write(block);
        decomp.execute();
        const out = [];
        for (let field = decomp.read(); field !== null; field = decomp.read()) out.push(field);
        return out;
      };
      decode(encodeWith(comp, list));
      const block = encodeWith(comp, list);
      return () => decode(block);
    },
  };
}

/** CPU ns per call over a round of n calls (CPU time: time spent descheduled on a shared machine does not count). */
function round(fn: () => unknown, n: number): number {
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) fn();
  const t = process.cpuUsage(t0);
  return ((t.user + t.system) * 1000) / n;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** Many short rounds, the order reversed every other round (no column always runs first), medians compared. */
function compare(label: string, fns: (() => unknown)[], n = 20_000, rounds = 40): number[] {
  for (const fn of fns) for (let i = 0; i < 50_000; i++) fn(); // warm up: optimized code
  const times: number[][] = fns.map(() => []);
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? [...fns.keys()].reverse() : [...fns.keys()];
    for (const i of order) times[i].push(round(fns[i], n));
  }
  const mid = times.map(median);
  const cells = mid.map((ns, i) => `${ns.toFixed(0).padStart(6)} ns${i > 0 ? ` ${(ns / mid[0]).toFixed(2).padStart(5)} ×` : ''}`);
  console.log(`${label.padEnd(48)} ${cells.join('  ')}`);
  return mid;
}

const BLOCKS = {
  h2load: ['h2load request', H2LOAD],
  mesh: ['mesh request (:path, x-request-id literal)', MESH],
  'grpc-head': ['gRPC response head', GRPC_HEAD],
  'grpc-trailers': ['gRPC trailers', GRPC_TRAILERS],
} as const;

// mast as configured by default (plain strings), then with huffman: true: what Huffman costs both sides
const codecs = [
  mast(false),
  mast(true),
  ...(process.env.HPACK_JS ? [hpackJs(process.env.HPACK_JS)] : []),
  ...(process.env.CONTROL ? [mast(false)] : []),
];

console.log(`${''.padEnd(48)} ${codecs.map((c, i) => c.name.padStart(9) + (i > 0 ? ' (× mast)' : '')).join('  ')}`);
for (const [label, headers] of Object.values(BLOCKS)) {
  const sizes = [true, false].map((huffman) => {
    const encoder = new HpackEncoder({ huffman });
    return `${encoder.encode([...headers]).length} then ${encoder.encode([...headers]).length}`;
  });
  console.log(`block bytes, ${label}: first then warm: Huffman ${sizes[0]}, plain ${sizes[1]}`);
}
for (const [label, headers] of Object.values(BLOCKS)) {
  compare(
    `decode ${label}`,
    codecs.map((c) => c.decoder([...headers])),
  );
  compare(
    `encode ${label}`,
    codecs.map((c) => c.encoder([...headers])),
  );
}
