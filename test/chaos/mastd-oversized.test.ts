/**
 * Oversized input against mastd (the bundle, in its own process): 20 authenticated push streams
 * each sending a 15 MB line with no newline, and a 30 MB YAML file dropped into the watched
 * directory — the two findings (mastd grew to 427 MB and 1.5 GB, and kept them). Each
 * stream is closed at the proxy-message limit, the file refused before it is parsed; mastd's peak
 * VmRSS stays within 64 MB of where it started, a gateway fed by it serves on without a failure,
 * and the next good edit still reaches it. Bounded: 20 streams × 15 MB and one file, at most 20 s.
 */
import * as http2 from 'node:http2';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PUSH_PATH, encode } from '../../runtime/contract/push-protocol';
import { tempDir } from '../support/temp-dir';
import { stoppedAfterEach, until } from '../support/proxy';
import { timeoutFor } from './duration';
import { Load, reasons } from './load';
import { adminJson, getText, mastdPorts, spawnBackend, spawnMastd, spawnMeshGateway, webMesh, type MastdPorts } from './processes';
import { loadRow, record } from './report';
import { rssMb } from './rss';

const { stopAfter } = stoppedAfterEach();
const STREAMS = 20;
const LINE_BYTES = 15 * 1024 * 1024;
const FILE_BYTES = 30 * 1024 * 1024;
const PEAK_MB = 64;

/** One authenticated push stream: a good hello, then `LINE_BYTES` with no newline. Resolves with how it ended and how much went out. */
function oversizedStream(ports: MastdPorts, i: number): Promise<{ sent: number; ended: string }> {
  return new Promise((resolve) => {
    const session = http2.connect(`http://127.0.0.1:${ports.push}`);
    session.on('error', () => undefined);
    const stream = session.request({ ':method': 'POST', ':path': PUSH_PATH, authorization: 'Bearer chaos-token' });
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let sent = 0;
    const finish = (ended: string) => (clearTimeout(timer), session.destroy(), resolve({ sent, ended }));
    const timer = setTimeout(() => finish('still open after 15 s'), 15_000);
    stream.on('error', (err) => finish(`error ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    stream.on('close', () => finish(`closed ${stream.rstCode}`));
    stream.write(
      encode({ type: 'hello', id: `flood-${i}`, identity: { mode: 'sidecar', namespace: 'default', labels: { app: `flood-${i}` } } }),
    );
    const pump = () => {
      while (sent < LINE_BYTES && !stream.destroyed) {
        sent += chunk.length;
        if (!stream.write(chunk)) return void stream.once('drain', pump);
      }
    };
    pump();
  });
}

describe('oversized push streams and files against mastd', () => {
  test(
    `20 streams × 15 MB lines and a 30 MB file: streams closed, file refused, mastd's peak RSS within ${PEAK_MB} MB, traffic unaffected`,
    async () => {
      const dir = tempDir('mast-chaos-oversized-');
      const meshDir = tempDir('mast-chaos-oversized-mesh-');
      const backend = await spawnBackend('web');
      stopAfter(() => backend.kill());
      writeFileSync(join(meshDir, 'web.yaml'), webMesh([backend.port]));
      const ports = await mastdPorts();
      const mastd = await spawnMastd(meshDir, dir, ports);
      stopAfter(() => mastd.kill());
      const gateway = await spawnMeshGateway(ports, dir);
      stopAfter(() => gateway.kill());
      // Measured once mastd is warm: its whole-mesh analysis (on a worker thread) has run.
      await adminJson(ports.monitoring, '/debug/analyze');
      const before = rssMb(mastd.pid);
      let peak = before;
      const sampler = setInterval(() => (peak = Math.max(peak, rssMb(mastd.pid))), 25);
      stopAfter(async () => clearInterval(sampler));
      const load = new Load({ port: gateway.port, rate: 50, maxRequests: 50 * 20 }).start();

      const streams = await Promise.all(Array.from({ length: STREAMS }, (_, i) => oversizedStream(ports, i)));
      writeFileSync(join(meshDir, 'huge.yaml'), `# ${'x'.repeat(FILE_BYTES)}\n`);
      await until('mastd to refuse huge.yaml', () => /huge\.yaml[^\n]*was not read/.test(mastd.stderr()), 10_000);
      // The next good edit is served: mastd is not stuck on the big file.
      writeFileSync(
        join(meshDir, 'marker.yaml'),
        webMesh(
          [backend.port],
          '    - match: [{ uri: { exact: /marker } }]\n      directResponse: { status: 200, body: { string: "after" } }\n',
        ).replace(/name: (edge|web)/g, 'name: $1-2'),
      );
      await until(
        'the gateway to serve the edit after the oversized input',
        async () => (await getText(gateway.port, '/marker')) === 'after',
        10_000,
      );
      const result = await load.stop();
      clearInterval(sampler);
      const after = rssMb(mastd.pid);
      record(
        loadRow(`oversized input to mastd (${STREAMS} × 15 MB push lines, a 30 MB file; peak ${peak} MB)`, result, {
          rss: [{ process: 'mastd', beforeMb: before, afterMb: after }],
        }),
      );

      // Every stream was cut off long before its 15 MB were read.
      expect(streams.filter((s) => !s.ended.startsWith('closed') && !s.ended.startsWith('error'))).toEqual([]);
      expect(streams.every((s) => s.sent < LINE_BYTES)).toBe(true);
      expect(mastd.exited()).toBeUndefined();
      expect(peak - before).toBeLessThanOrEqual(PEAK_MB);
      expect(reasons(result.failed)).toEqual({});
    },
    timeoutFor(20_000),
  );
});
