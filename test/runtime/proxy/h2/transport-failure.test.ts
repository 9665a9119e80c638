/**
 * `%UPSTREAM_TRANSPORT_FAILURE_REASON%` for an HTTP/2 request whose upstream connection never came
 * up (the access log's `upstream_transport_failure_reason`), over an HTTP/2 upstream and over an
 * HTTP/1.1 one: the request gets 503 UF, its log line says why (Node's code: ECONNREFUSED).
 */
import * as http2 from 'node:http2';
import { PassThrough } from 'node:stream';
import { freePort } from '../../../../runtime/local/local-mesh';
import { DEFAULT_LIMITS } from '../../../../runtime/proxy/http/head';
import { MeshProxy } from '../../../../runtime/proxy/mesh-proxy';
import { cluster, config, forward, stoppedAfterEach, until } from '../../../support/proxy';

const { stopAfter } = stoppedAfterEach();

test.each([
  ['an HTTP/2 upstream', 'h2' as const],
  ['an HTTP/1.1 upstream', undefined],
])('a refused connection to %s: 503 UF, and the log line names ECONNREFUSED', async (_what, upstreamProtocol) => {
  const closed = await freePort();
  const log = new PassThrough();
  let text = '';
  log.on('data', (d) => (text += d));
  const proxy = new MeshProxy({ mode: 'gateway', workload: 'gw', namespace: 'mast-system' }, log, DEFAULT_LIMITS);
  proxy.accessLogFlushMs = 0;
  const c = cluster('gone', [closed], upstreamProtocol ? { upstreamProtocol } : {});
  expect(await proxy.apply(config([forward('gone')], [c]))).toMatchObject({ ok: true });
  stopAfter(() => proxy.drain(50));
  const session = http2.connect(`http://127.0.0.1:${proxy.boundPort('l')}`);
  stopAfter(async () => void session.close());
  const status = await new Promise<number>((resolve, reject) => {
    const s = session.request({ ':path': '/', ':authority': 'alpha.example.com' });
    s.on('response', (h) => resolve(Number(h[':status'])));
    s.on('error', reject);
    s.resume();
    s.end();
  });
  expect(status).toBe(503);
  await until('the access log line', () => text.includes('\n'));
  expect(JSON.parse(text.trim().split('\n')[0])).toMatchObject({
    protocol: 'HTTP/2',
    response_code: 503,
    response_flags: 'UF',
    upstream_transport_failure_reason: 'ECONNREFUSED',
  });
});
