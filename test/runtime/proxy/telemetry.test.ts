/** The JSON access log: one line per request, with what Envoy's default format says about it. */
import { PassThrough } from 'node:stream';
import { MeshProxy } from '../../../runtime/proxy/mesh-proxy';
import { DEFAULT_LIMITS } from '../../../runtime/proxy/http/head';
import { backend, cluster, config, forward, get, until } from '../../support/proxy';

/** The fields of Istio's default JSON access log (pilot's EnvoyJSONLogFormatIstio). */
const ISTIO_JSON_FIELDS = [
  'start_time',
  'route_name',
  'method',
  'path',
  'protocol',
  'response_code',
  'response_flags',
  'response_code_details',
  'connection_termination_details',
  'bytes_received',
  'bytes_sent',
  'duration',
  'upstream_service_time',
  'x_forwarded_for',
  'user_agent',
  'request_id',
  'authority',
  'upstream_host',
  'upstream_cluster',
  'upstream_local_address',
  'downstream_local_address',
  'downstream_remote_address',
  'requested_server_name',
  'upstream_transport_failure_reason',
];

test('one JSON line per request: route, cluster, upstream, flags, request id, and why a request was refused', async () => {
  const a = await backend('a');
  const cfg = config([forward('a', {}, { name: 'to-a', matches: [{ uri: { prefix: '/a' } }] })], [cluster('a', [a.port])]);
  const withAuthz = {
    ...cfg,
    listeners: [{ ...cfg.listeners[0], authz: { deny: [{ name: 'default/no-secrets[0]', to: [{ paths: ['/a/secret*'] }] }] } }],
  };
  const log = new PassThrough();
  let text = '';
  log.on('data', (d) => (text += d));
  const proxy = new MeshProxy({ mode: 'gateway', workload: 'gw', namespace: 'mast-system' }, log, DEFAULT_LIMITS);
  const applied = await proxy.apply(withAuthz);
  expect(applied.ok).toBe(true);
  const port = proxy.boundPort('l')!;
  try {
    expect(
      (await get(port, '/a/1?x=1', { 'x-request-id': 'req-7', 'user-agent': 'curl/8.5', 'x-forwarded-for': '198.51.100.7' })).status,
    ).toBe(200);
    expect((await get(port, '/nowhere')).status).toBe(404);
    expect((await get(port, '/a/secret/key')).status).toBe(403);
    expect((await get(port, '/a/2')).status).toBe(200);
    // A line is written when its record is published, which may follow the response by a tick.
    await until('four access log lines', () => text.trim().split('\n').length >= 4);
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatchObject({
      method: 'GET',
      path: '/a/1?x=1',
      protocol: 'HTTP/1.1',
      response_code: 200,
      response_flags: '-',
      route_name: 'to-a',
      upstream_cluster: 'a',
      upstream_host: `127.0.0.1:${a.port}`,
      authority: 'alpha.example.com',
      response_code_details: null,
      user_agent: 'curl/8.5',
      x_forwarded_for: '198.51.100.7',
    });
    // Istio's default JSON format names every field, null when there is nothing to say.
    expect(Object.keys(lines[0])).toEqual(expect.arrayContaining(ISTIO_JSON_FIELDS));
    expect(lines[0].downstream_remote_address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(lines[0]).not.toHaveProperty('x_request_id');
    // A gateway's client is external: its own x-request-id is replaced (Istio: use_remote_address, preserve_external_request_id off).
    expect(lines[0].request_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.seen[0].headers['x-request-id']).toBe(lines[0].request_id);
    expect(lines[0].duration).toEqual(expect.any(Number));
    expect(lines[0].bytes_sent).toBeGreaterThan(0);
    expect(Date.parse(lines[0].start_time)).not.toBeNaN();
    expect(lines[1]).toMatchObject({ path: '/nowhere', response_code: 404, response_flags: 'NR', upstream_cluster: null });
    expect(lines[2]).toMatchObject({
      response_code: 403,
      response_code_details: 'rbac_access_denied_matched_policy[ns[default]-policy[no-secrets]-rule[0]]',
    });
    // A local reply has a request id too (Envoy's connection manager sets one before any filter or route).
    expect(lines[1].request_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(lines[2].request_id).toMatch(/^[0-9a-f-]{36}$/);
    // A forwarded request without one gets a generated request id (the backend saw the same).
    expect(lines[3].request_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.seen.at(-1)?.headers['x-request-id']).toBe(lines[3].request_id);
  } finally {
    await proxy.drain(100);
    await a.close();
  }
});

test('trusted hops: the client is the Nth x-forwarded-for entry from the right, for authorization and the log', async () => {
  const a = await backend('a');
  const cfg = config([forward('a')], [cluster('a', [a.port])]);
  const authz = { deny: [{ name: 'default/no-internal[0]', from: [{ remoteIpBlocks: ['10.0.0.0/8'] }] }] };
  const run = async (trustedHops: number) => {
    const log = new PassThrough();
    let text = '';
    log.on('data', (d) => (text += d));
    const proxy = new MeshProxy({ mode: 'gateway', workload: 'gw', namespace: 'mast-system' }, log, { ...DEFAULT_LIMITS, trustedHops });
    await proxy.apply({ ...cfg, listeners: [{ ...cfg.listeners[0], authz }] });
    const status = (await get(proxy.boundPort('l')!, '/', { 'x-forwarded-for': '203.0.113.9, 10.0.0.5' })).status;
    await until('the access log line', () => text.includes('\n'));
    await proxy.drain(50);
    return { status, client: JSON.parse(text.trim()).client_address };
  };
  try {
    // No trusted hop: the header is the client's own claim; the client is the peer.
    expect(await run(0)).toEqual({ status: 200, client: '127.0.0.1' });
    expect(await run(1)).toEqual({ status: 403, client: '10.0.0.5' });
    expect(await run(2)).toEqual({ status: 200, client: '203.0.113.9' });
  } finally {
    await a.close();
  }
});

describe('access log lines are written together (--access-log-flush-ms), never lost', () => {
  async function logged(flushMs: number, requests: number) {
    const a = await backend('a');
    const log = new PassThrough();
    const writes: string[] = [];
    log.on('data', (d: Buffer) => writes.push(d.toString()));
    const proxy = new MeshProxy({ mode: 'gateway', workload: 'gw', namespace: 'mast-system' }, log, DEFAULT_LIMITS);
    proxy.accessLogFlushMs = flushMs;
    await proxy.apply(config([forward('a')], [cluster('a', [a.port])]));
    const port = proxy.boundPort('l')!;
    for (let i = 0; i < requests; i++) expect((await get(port, `/${i}`)).status).toBe(200);
    const lines = () => writes.join('').trim().split('\n').filter(Boolean).length;
    return { writes, lines, proxy, close: async () => (await proxy.drain(50), a.close()) };
  }

  test('within the interval, several requests are one write', async () => {
    const run = await logged(300, 5);
    try {
      await until('the five lines', () => run.lines() === 5);
      expect(run.writes).toHaveLength(1);
    } finally {
      await run.close();
    }
  });

  test('lines still waiting for the timer are written when the proxy drains (SIGTERM)', async () => {
    const run = await logged(60_000, 2);
    expect(run.writes).toHaveLength(0);
    await run.close();
    expect(run.lines()).toBe(2);
  });
});
