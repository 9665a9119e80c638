/**
 * An access log sink that cannot keep up (a stdout pipe nobody reads, a stuck disk) costs log
 * lines, counted, never unbounded memory: past ACCESS_LOG_MAX_PENDING_BYTES queued in the sink,
 * lines are dropped and `mast_access_log_dropped_total` says how many; requests and their metrics
 * are untouched.
 */
import * as http from 'node:http';
import { Writable } from 'node:stream';
import { DEFAULT_LIMITS } from '../../../runtime/proxy/http/head';
import { MeshProxy } from '../../../runtime/proxy/mesh-proxy';
import { ACCESS_LOG_MAX_PENDING_BYTES } from '../../../runtime/proxy/telemetry';
import { cluster, config, forward, stoppedAfterEach, until } from '../../support/proxy';

const { withBackend, stopAfter } = stoppedAfterEach();

/** A sink whose first write never completes (everything after it queues in the stream), counting the lines it was given. */
function neverDrains(): Writable & { lines: number } {
  const sink = Object.assign(new Writable({ write: () => undefined }), { lines: 0 });
  const write = sink.write.bind(sink) as (chunk: string) => boolean;
  sink.write = ((chunk: string) => ((sink.lines += chunk.split('\n').length - 1), write(chunk))) as Writable['write'];
  return sink;
}

const counter = (metrics: string, name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0);

test('a sink that never drains: lines past the bound are dropped and counted, the queue stays bounded, every request is served and counted', async () => {
  const a = await withBackend('a', (_req, res) => res.end('ok'));
  const sink = neverDrains();
  const proxy = new MeshProxy({ mode: 'gateway', workload: 'gw', namespace: 'mast-system' }, sink, DEFAULT_LIMITS);
  stopAfter(() => proxy.drain(50));
  expect((await proxy.apply(config([forward('a')], [cluster('a', [a.port])]))).ok).toBe(true);
  const port = proxy.boundPort('l')!;

  // Lines of ~8 kB (the path is logged): the bound is reached after ~128 of them.
  const path = `/${'p'.repeat(8000)}`;
  const requests = Math.ceil((ACCESS_LOG_MAX_PENDING_BYTES / 8000) * 2.5);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const statuses = await Promise.all(
    Array.from(
      { length: requests },
      () =>
        new Promise<number>((resolve) => {
          http
            .get({ host: '127.0.0.1', port, path, agent, headers: { host: 'alpha.example.com' } }, (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode!));
            })
            .on('error', () => resolve(0));
        }),
    ),
  );
  agent.destroy();
  expect(statuses.filter((s) => s === 200)).toHaveLength(requests);

  // Lines leave once per turn of the loop: the last of them a turn after the last response.
  await until(
    'every line to be written or dropped',
    () => counter(proxy.renderMetrics(), 'mast_access_log_dropped_total') + sink.lines >= requests,
  );
  const metrics = proxy.renderMetrics();
  const dropped = counter(metrics, 'mast_access_log_dropped_total');
  // Bounded: at most the bound plus the line that crossed it.
  expect(sink.writableLength).toBeLessThanOrEqual(ACCESS_LOG_MAX_PENDING_BYTES + path.length + 1000);
  expect(sink.writableLength).toBeGreaterThan(ACCESS_LOG_MAX_PENDING_BYTES / 2);
  // Every request is either a line in the sink or a drop.
  expect(dropped).toBeGreaterThan(requests / 2);
  expect(dropped + sink.lines).toBe(requests);
  // The request metrics count all of them, dropped lines or not.
  expect(metrics).toMatch(new RegExp(`istio_requests_total\\{[^}]*response_code="200"[^}]*\\} ${requests}\\b`));
});
