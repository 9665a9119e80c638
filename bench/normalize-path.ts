/**
 * Microbenchmark: what path normalization adds per request, next to parsing the head it comes
 * from. `npx ts-node --swc bench/normalize-path.ts` (one core, a few seconds).
 */
import { headEnd, parseRequestHead } from '../runtime/proxy/http/head';
import { normalizePath } from '../runtime/proxy/http/normalize-path';

function perCall(name: string, fn: () => unknown, n = 2_000_000): number {
  for (let i = 0; i < 200_000; i++) fn(); // warm up (optimized code)
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / n);
  }
  console.log(`${name.padEnd(58)} ${best.toFixed(1).padStart(7)} ns`);
  return best;
}

const paths = ['/productpage', '/api/v1/users/1234?expand=orders&limit=20', '/static/css/app.min.css', '/reviews/0'];
let k = 0;
const head = Buffer.from(
  'GET /api/v1/users/1234?expand=orders&limit=20 HTTP/1.1\r\nHost: alpha.example.com\r\nUser-Agent: wrk\r\nAccept: */*\r\nx-request-id: 4b0c9a3e-2f1d-4c8e-9a7b-3c2d1e0f9a8b\r\n\r\n',
  'latin1',
);
const end = headEnd(head);

const parse = perCall('parseRequestHead (the head above, for scale)', () => parseRequestHead(head, 0, end));
const loop = perCall('(the loop and the path pick alone)', () => paths[k++ & 3]);
const fast = perCall('normalizePath BASE, ordinary paths (fast path)', () => normalizePath(paths[k++ & 3], 'BASE')) - loop;
perCall('normalizePath MERGE_SLASHES, ordinary paths', () => normalizePath(paths[k++ & 3], 'MERGE_SLASHES'));
perCall('normalizePath BASE, /a/./b/../c%41?q=1 (slow path)', () => normalizePath('/a/./b/../c%41?q=1', 'BASE'), 500_000);
perCall('normalizePath BASE, /.well-known/openid (slow path, unchanged)', () => normalizePath('/.well-known/openid', 'BASE'), 500_000);
console.log(
  `fast path ≈ ${fast.toFixed(1)} ns a request = ${((fast / parse) * 100).toFixed(1)} % of parsing the head; a mast gateway spends ≈ 36 µs of CPU a request (bench/RESULTS.md)`,
);
