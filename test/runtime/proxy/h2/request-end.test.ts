/**
 * Where an HTTP/2 client's request ends. Node ends a server stream's readable side both for the
 * client's END_STREAM and for its RST_STREAM(NO_ERROR) before END_STREAM; only the first is a
 * complete request. A request the client reset mid-body must reach the upstream reset too (as
 * Envoy resets the upstream stream of a reset downstream one), never as a complete, shorter request.
 */
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { cluster, config, forward, stoppedAfterEach, until } from '../../../support/proxy';
import { h2c } from './h2-client';

const { proxyFor, stopAfter } = stoppedAfterEach();

/** An HTTP/2 server that notes how each request ended: `complete` (its END_STREAM came) or `reset`. */
async function endings(): Promise<{ port: number; outcomes: string[]; opened: () => number }> {
  const outcomes: string[] = [];
  let opened = 0;
  const server = http2.createServer();
  server.on('stream', (stream) => {
    opened++;
    let ended = false;
    stream.on('data', () => undefined);
    stream.on('end', () => {
      ended = !stream.closed;
      if (!ended) return;
      stream.respond({ ':status': 200 });
      stream.end('ok');
    });
    stream.on('close', () => outcomes.push(ended ? 'complete' : 'reset'));
    stream.on('error', () => undefined);
  });
  server.on('session', (s) => stopAfter(async () => void s.destroy()));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stopAfter(() => new Promise((r) => server.close(() => r())));
  return { port: (server.address() as AddressInfo).port, outcomes, opened: () => opened };
}

test('a client that resets its stream with NO_ERROR mid-body: the upstream stream is reset, not ended as a complete request', async () => {
  const upstream = await endings();
  const { port } = await proxyFor(config([forward('g')], [cluster('g', [upstream.port], { upstreamProtocol: 'h2' })]));
  const session = h2c(port);
  stopAfter(async () => void session.close());
  const req = session.request({ ':method': 'POST', ':path': '/upload', ':authority': 'alpha.example.com' });
  req.on('error', () => undefined);
  req.write('first half of the body');
  await until('the upstream stream to open', () => upstream.opened() === 1);
  // destroy() without an error: RST_STREAM(NO_ERROR), no END_STREAM (close() would end the body first).
  req.destroy();
  await until('the upstream stream to close', () => upstream.outcomes.length === 1);
  expect(upstream.outcomes).toEqual(['reset']);
});
