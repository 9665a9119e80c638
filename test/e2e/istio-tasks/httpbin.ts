/**
 * The httpbin, helloworld and nginx workloads of Istio's ingress and authorization tasks, as a
 * `mast local` app on PORT: `/status/<code>` answers that code (418 with httpbin's teapot), `/get`,
 * `/post` and `/ip` 200 with the method and path as JSON, `/headers` the request's
 * headers as JSON, `/delay/<s>` after that many seconds (at most 10), `/hello` helloworld's
 * greeting, `/` nginx's welcome. With TLS_CERT and TLS_KEY (files) it serves HTTPS, as the
 * ingress-sni-passthrough task's nginx does.
 */
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';

const VERSION = process.env.VERSION ?? 'v1';
const TEAPOT = '\n    -=[ teapot ]=-\n';

if (process.env.MAST_STOP_WITH_PARENT === '1') {
  process.stdin.on('end', () => process.exit(0)).on('close', () => process.exit(0));
  process.stdin.resume();
}
process.once('SIGTERM', () => process.exit(0));

const app: http.RequestListener = (req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const status = /^\/status\/(\d{3})$/.exec(url.pathname);
  if (status) return void res.writeHead(Number(status[1])).end(status[1] === '418' ? TEAPOT : '');
  if (url.pathname === '/headers') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return void res.end(JSON.stringify({ headers: req.headers }));
  }
  const delay = /^\/delay\/(\d+)$/.exec(url.pathname);
  if (delay) return void setTimeout(() => res.writeHead(200).end(), Math.min(Number(delay[1]), 10) * 1000);
  if (['/get', '/post', '/ip'].includes(url.pathname)) {
    res.writeHead(200, { 'content-type': 'application/json' });
    return void res.end(JSON.stringify({ method: req.method, url: url.pathname }));
  }
  if (url.pathname === '/hello') return void res.end(`Hello version: ${VERSION}, instance: ${process.env.SERVICE ?? 'helloworld'}\n`);
  if (url.pathname === '/') return void res.end(`<title>Welcome to ${process.env.SERVICE ?? 'nginx'}!</title>\n`);
  res.writeHead(404).end();
};
const { TLS_CERT, TLS_KEY } = process.env;
const server =
  TLS_CERT && TLS_KEY ? https.createServer({ cert: readFileSync(TLS_CERT), key: readFileSync(TLS_KEY) }, app) : http.createServer(app);
server.listen(Number(process.env.PORT ?? 8000), process.env.HOST ?? '127.0.0.1');
