/**
 * OpenTelemetry access logs (Istio's envoyOtelAls) through a real proxy, to an OTLP/gRPC collector the
 * test runs on loopback (test/support/otlp-receiver.ts): each request one LogRecord with its body and
 * attributes, sent as `LogsService/Export` over h2c; with tracing on, spans go to the same collector
 * over OTLP/gRPC (a provider without `http`, as Istio) and each record carries its request's span. A
 * collector that is down or refuses costs records, counted, never a request. TCP connections are
 * records too, through the same provider.
 */
import * as net from 'node:net';
import type { AccessLogsConfig, ProxyConfig, TracingConfig } from '../../../runtime/contract/proxy-config';
import { OTLP_TRACES_EXPORT } from '../../../runtime/contract/proxy-config';
import { DEFAULT_LIMITS } from '../../../runtime/proxy/http/head';
import { MeshProxy } from '../../../runtime/proxy/mesh-proxy';
import { freePort } from '../../../runtime/local/local-mesh';
import { OtlpGrpcReceiver } from '../../support/otlp-receiver';
import { backend, cluster, config, forward, get, stoppedAfterEach, until } from '../../support/proxy';

const { stopAfter } = stoppedAfterEach();

const BODY = '%REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE% %UPSTREAM_CLUSTER%';
const otelLogs = (port: number): AccessLogsConfig => ({
  server: [],
  client: [
    {
      provider: 'otel',
      path: '',
      format: { text: BODY },
      otlp: {
        host: '127.0.0.1',
        port,
        logName: 'otel_envoy_accesslog',
        attributes: { agent: '%REQ(USER-AGENT)%', code: '%RESPONSE_CODE%', flags: '%RESPONSE_FLAGS%' },
      },
    },
  ],
});

async function gateway(cfg: Partial<ProxyConfig>) {
  const a = await backend('a', (req, res) => res.writeHead(Number(/\/status\/(\d{3})/.exec(req.url ?? '')?.[1] ?? 200)).end());
  stopAfter(() => a.close());
  const proxy = new MeshProxy({ mode: 'gateway', workload: 'gw', namespace: 'istio-system' }, undefined, DEFAULT_LIMITS);
  stopAfter(() => proxy.drain(100));
  const applied = await proxy.apply({ ...config([forward('a', {}, { name: 'to-a' })], [cluster('a', [a.port])]), ...cfg });
  expect(applied).toMatchObject({ ok: true });
  return { proxy, port: proxy.boundPort('l')! };
}

const counter = (proxy: MeshProxy, name: string) =>
  Number(new RegExp(`^${name.replace(/[{}"]/g, '\\$&')} (\\d+)$`, 'm').exec(proxy.renderMetrics())?.[1] ?? 0);

test('each request is one LogRecord at the collector: the text as body, the labels as attributes, over OTLP/gRPC', async () => {
  const collector = new OtlpGrpcReceiver();
  await collector.listen();
  stopAfter(() => collector.close());
  const { proxy, port } = await gateway({ accessLogs: otelLogs(collector.port) });

  expect((await get(port, '/status/418', { 'user-agent': 'curl/8.5.0' })).status).toBe(418);
  expect((await get(port, '/ok', { 'user-agent': 'curl/8.5.0' })).status).toBe(200);
  await until('two records at the collector', () => collector.records.length >= 2, 10_000);

  expect(collector.records.map((r) => r.body)).toEqual(['GET /status/418 418 a', 'GET /ok 200 a']);
  expect(collector.records[0].attributes).toEqual([
    ['agent', 'curl/8.5.0'],
    ['code', '418'],
    ['flags', '-'],
  ]);
  // The request's start, in nanoseconds: within this test's run.
  const ms = Number(collector.records[0].timeUnixNano / 1_000_000n);
  expect(Math.abs(ms - Date.now())).toBeLessThan(60_000);
  // No tracing: no trace context; no resource attributes (Istio turns Envoy's built-in labels off).
  expect(collector.records[0].fieldNumbers).toEqual([1, 5, 6]);
  expect(collector.resources.every((r) => r.length === 0)).toBe(true);
  expect(collector.calls[0]).toEqual({
    path: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
    authority: '127.0.0.1',
    contentType: 'application/grpc',
    te: 'trailers',
  });
  await until('the export counted', () => counter(proxy, 'mast_access_log_otlp_exported_total') === 2);
});

test('with tracing to the same collector over OTLP/gRPC, each record carries the span of its request', async () => {
  const collector = new OtlpGrpcReceiver();
  await collector.listen();
  stopAfter(() => collector.close());
  const tracing: TracingConfig = {
    samplingPercent: 100,
    collector: { host: '127.0.0.1', port: collector.port, path: OTLP_TRACES_EXPORT, protocol: 'grpc' },
    serviceName: 'istio-ingressgateway.istio-system',
    tags: [],
  };
  const { port } = await gateway({ accessLogs: otelLogs(collector.port), tracing });
  expect((await get(port, '/traced')).status).toBe(200);
  await until('the record and the span', () => collector.records.length >= 1 && collector.spans.length >= 1, 10_000);
  const [record] = collector.records;
  const [span] = collector.spans;
  expect(span).toMatchObject({ service: 'istio-ingressgateway.istio-system', kind: 3 });
  expect(span.attributes).toContainEqual(['http.status_code', '200']);
  expect(record.traceId).toBe(span.traceId);
  expect(record.spanId).toBe(span.spanId);
  expect(collector.calls.map((c) => c.path).sort()).toEqual([
    '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
    '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  ]);
});

test('a collector that is down: records dropped and counted, requests answered as before', async () => {
  // Nothing listens on this port.
  const { proxy, port } = await gateway({ accessLogs: otelLogs(await freePort()) });
  for (let i = 0; i < 3; i++) expect((await get(port, `/down/${i}`)).status).toBe(200);
  await until(
    'the failed exports counted',
    () => counter(proxy, 'mast_access_log_otlp_dropped_total{reason="export_failed"}') === 3,
    10_000,
  );
  expect(counter(proxy, 'mast_access_log_otlp_exported_total')).toBe(0);
});

test('a collector that answers a non-OK grpc-status (UNAVAILABLE in the trailers of an HTTP 200): the export counts as failed', async () => {
  const refusing = new OtlpGrpcReceiver();
  await refusing.listen();
  stopAfter(() => refusing.close());
  refusing.status = 14;
  const { proxy, port } = await gateway({ accessLogs: otelLogs(refusing.port) });
  expect((await get(port, '/refused')).status).toBe(200);
  await until(
    'the refused export counted',
    () => counter(proxy, 'mast_access_log_otlp_dropped_total{reason="export_failed"}') === 1,
    10_000,
  );
  expect(refusing.calls).toHaveLength(1);
  // Taken again once it accepts: the next record is exported on the same connection.
  refusing.status = 0;
  expect((await get(port, '/accepted')).status).toBe(200);
  await until('the next record exported', () => counter(proxy, 'mast_access_log_otlp_exported_total') === 1, 10_000);
  expect(refusing.records.map((r) => r.body)).toEqual(['GET /accepted 200 a']);
});

test("a TCP connection is one record at close, through the same provider: the connection's body, no trace context", async () => {
  const collector = new OtlpGrpcReceiver();
  await collector.listen();
  stopAfter(() => collector.close());
  const echo = net.createServer((s) => s.on('data', (d) => s.end(`echo:${d}`)));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  stopAfter(() => new Promise((r) => echo.close(() => r(undefined))));
  const proxy = new MeshProxy({ mode: 'sidecar', workload: 'client', namespace: 'shop' }, undefined, DEFAULT_LIMITS);
  stopAfter(() => proxy.drain(100));
  const logs = otelLogs(collector.port);
  const applied = await proxy.apply({
    schema: 1,
    version: 'v1',
    listeners: [{ name: 'tcp', port: 0, matchPort: 5432, protocol: 'tcp', tcpDestinations: [{ cluster: 'db', weight: 100 }] }],
    clusters: [cluster('db', [(echo.address() as net.AddressInfo).port])],
    accessLogs: {
      server: [],
      client: [{ ...logs.client[0], format: { text: '%UPSTREAM_CLUSTER% %BYTES_RECEIVED% %BYTES_SENT% %REQ(:METHOD)%' } }],
    },
  });
  expect(applied).toMatchObject({ ok: true });
  const reply = await new Promise<string>((resolve, reject) => {
    const s = net.connect(proxy.boundPort('tcp')!, '127.0.0.1', () => s.write('ping'));
    let got = '';
    s.on('data', (d) => (got += d));
    s.on('close', () => resolve(got));
    s.on('error', reject);
  });
  expect(reply).toBe('echo:ping');
  await until('the connection record', () => collector.records.length >= 1, 10_000);
  expect(collector.records[0]).toMatchObject({
    body: 'db 4 9 -',
    attributes: [
      ['agent', '-'],
      ['code', '0'],
      ['flags', '-'],
    ],
    fieldNumbers: [1, 5, 6],
  });
});
