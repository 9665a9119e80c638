/**
 * helloworld of Istio's locality load-balancing tasks, as a `mast local` app on PORT: `/hello` answers
 * `Hello version: <VERSION>, instance: <INSTANCE>`. Two switches stand for what the tasks do to a
 * zone: while the file FAILING_FILE exists it answers 503 (the task drains that zone's proxy, so its
 * calls fail and outlier detection ejects it); if STOPPED_FILE exists when it starts it exits at once,
 * so after `/exit` its workload stays down (a crash loop: `mast local` marks it not ready).
 */
import { existsSync } from 'node:fs';
import * as http from 'node:http';

const { FAILING_FILE, STOPPED_FILE } = process.env;
if (STOPPED_FILE && existsSync(STOPPED_FILE)) process.exit(3);
if (process.env.MAST_STOP_WITH_PARENT === '1') {
  process.stdin.on('end', () => process.exit(0)).on('close', () => process.exit(0));
  process.stdin.resume();
}
process.once('SIGTERM', () => process.exit(0));

http
  .createServer((req, res) => {
    if (req.url === '/exit') return void res.end('bye', () => process.exit(3));
    if (req.url !== '/hello') return void res.writeHead(404).end();
    if (FAILING_FILE && existsSync(FAILING_FILE)) return void res.writeHead(503).end('failing\n');
    res.end(`Hello version: ${process.env.VERSION ?? 'v1'}, instance: ${process.env.INSTANCE ?? 'helloworld'}\n`);
  })
  .listen(Number(process.env.PORT ?? 5000), process.env.HOST ?? '127.0.0.1');
