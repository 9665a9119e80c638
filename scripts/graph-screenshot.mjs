// `npm run docs:screenshot`: a picture of mast local's service graph for docs/ (docs/graph.png).
// Starts the bundled example on ports the kernel picks, sends Bookinfo traffic through the gateway
// (the 90/10 canary of reviews v1/v3, jason's v2 with its gRPC calls to ratings, some pages whose
// reviews answer 500), twice (the page shows rates over the time between two scrapes), then has
// headless Chromium shoot the admin page. Without chromium it says so and exits 0: the picture is documentation, not a check.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import * as http from 'node:http';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const out = join(root, 'docs', 'graph.png');
if (spawnSync('sh', ['-c', 'command -v chromium']).status !== 0) {
  console.log('chromium is not installed (apt-get install chromium): no screenshot taken');
  process.exit(0);
}

const mast = spawn(
  process.execPath,
  ['bin/mast', 'local', '-f', 'examples/bookinfo/mesh', '-f', 'examples/bookinfo/local', '--gateway-port', '0', '--admin-port', '0'],
  { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] },
);
const stop = () => mast.exitCode === null && mast.kill('SIGTERM');
process.on('exit', stop);

const ready = await new Promise((resolve, reject) => {
  let text = '';
  const timer = setTimeout(() => reject(new Error(`mast local not ready in 90 s:\n${text}`)), 90_000);
  mast.stdout.on('data', (d) => {
    text += d;
    const m = /ready: gateway http:\/\/127\.0\.0\.1:(\d+), admin (http:\/\/127\.0\.0\.1:\d+\/)/.exec(text);
    if (m) {
      clearTimeout(timer);
      resolve({ gateway: Number(m[1]), admin: m[2] });
    }
  });
  mast.on('exit', (code) => reject(new Error(`mast local exited (${code}):\n${text}`)));
});

const get = (port, path, headers) =>
  new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.setTimeout(10_000, () => req.destroy());
    req.on('error', () => resolve(0));
  });

const page = (headers = {}) => get(ready.gateway, '/productpage', { host: 'alpha.example.com', ...headers });
async function traffic() {
  for (let i = 0; i < 40; i++) await page();
  for (let i = 0; i < 10; i++) await page({ 'end-user': 'jason' });
  for (let i = 0; i < 3; i++) await page({ 'x-bookinfo-fail': 'reviews=500' });
}
const admin = (path) => fetch(new URL(path, ready.admin)).then((r) => r.text());

await traffic();
await admin('/api/graph');
// A second round a few seconds later: the page's rates are over the time between its two scrapes.
await new Promise((r) => setTimeout(r, 2000));
await traffic();

const shot = spawnSync(
  'chromium',
  ['--headless=new', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--window-size=1500,820', `--screenshot=${out}`, ready.admin],
  { encoding: 'utf8', timeout: 60_000 },
);
stop();
if (!existsSync(out) || statSync(out).mtimeMs < Date.now() - 60_000) {
  console.error(`no screenshot: ${shot.stderr}`);
  process.exit(1);
}
console.log(`wrote ${out}`);
