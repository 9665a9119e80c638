/** The access log of HTTP/2 requests: the protocol, and a gRPC call's status beside its HTTP status. */
import * as grpc from '@grpc/grpc-js';
import { PassThrough } from 'node:stream';
import { DEFAULT_LIMITS } from '../../../../runtime/proxy/http/head';
import { MeshProxy } from '../../../../runtime/proxy/mesh-proxy';
import { cluster, config, forward, stoppedAfterEach, until } from '../../../support/proxy';
import { echoClient, echoServer, unary } from './grpc-echo';

const { stopAfter } = stoppedAfterEach();

test('an HTTP/2 gRPC call is logged with protocol HTTP/2, status 200 and its grpc_status', async () => {
  const s = await echoServer();
  stopAfter(() => s.close());
  const log = new PassThrough();
  let text = '';
  log.on('data', (d) => (text += d));
  const proxy = new MeshProxy({ mode: 'gateway', workload: 'gw', namespace: 'mast-system' }, log, DEFAULT_LIMITS);
  expect(await proxy.apply(config([forward('g')], [cluster('g', [s.port], { upstreamProtocol: 'h2' })]))).toMatchObject({ ok: true });
  stopAfter(() => proxy.drain(50));
  const c = echoClient(proxy.boundPort('l')!);
  stopAfter(async () => c.close());
  s.failNext(1, grpc.status.ALREADY_EXISTS);
  await unary(c, { text: 'x' });
  await unary(c, { text: 'y' });
  await until('two log lines', () => text.trim().split('\n').length >= 2);
  const lines = text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  expect(lines.map((l) => [l.protocol, l.method, l.path, l.response_code, l.grpc_status])).toEqual([
    ['HTTP/2', 'POST', '/echo.Echo/Unary', 200, grpc.status.ALREADY_EXISTS],
    ['HTTP/2', 'POST', '/echo.Echo/Unary', 200, grpc.status.OK],
  ]);
});
