/**
 * HTTP/1.1 tries for HTTP/2 clients (h2/upstream-h1.ts): the connection a complete response came
 * on goes back to the pool and serves the next request, a response without a body (204) included.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { cluster, config, forward, stoppedAfterEach } from '../../../support/proxy';
import { h2c, h2request } from './h2-client';

const { proxyFor, stopAfter } = stoppedAfterEach();

test('requests one after another share one pooled HTTP/1.1 connection, a 204 (no body) included', async () => {
  let connections = 0;
  const server = http.createServer((req, res) => {
    if (req.url === '/empty') res.writeHead(204).end();
    else res.end(`got ${req.url}`);
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stopAfter(() => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))));
  const { port } = await proxyFor(config([forward('app')], [cluster('app', [(server.address() as AddressInfo).port])]));
  const session = h2c(port);
  stopAfter(async () => void session.close());
  expect(await h2request(session, { ':path': '/one' })).toMatchObject({ status: 200, body: 'got /one' });
  expect(await h2request(session, { ':path': '/empty' })).toMatchObject({ status: 204, body: '' });
  expect(await h2request(session, { ':path': '/two' })).toMatchObject({ status: 200, body: 'got /two' });
  expect(connections).toBe(1);
});
