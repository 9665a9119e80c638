/**
 * mastd killed (SIGKILL) and started again while the mesh's files are being edited, under a steady
 * load through a gateway that takes its config from it. The gateway keeps serving its last good
 * config while mastd is gone, reconnects to the new one and runs the newest edit; no request
 * fails. Bounded: 100 requests/s for 3 s (20 s under `npm run chaos`), an edit every 250 ms.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/temp-dir';
import { stoppedAfterEach, until } from '../support/proxy';
import { elapse } from '../support/quiet';
import { span, timeoutFor } from './duration';
import { Load, reasons } from './load';
import { getText, mastdPorts, spawnBackend, spawnMastd, spawnMeshGateway, webMesh } from './processes';
import { loadRow, record } from './report';
import { rssMb } from './rss';

const { stopAfter } = stoppedAfterEach();
const RUN_MS = span(3000, 20_000);
const RATE = 100;

/** The mesh with a marker route that answers which edit it came from. */
const edited = (backend: number, n: number) =>
  webMesh([backend], `    - match: [{ uri: { exact: /marker } }]\n      directResponse: { status: 200, body: { string: "edit ${n}" } }\n`);

const marker = (port: number) => getText(port, '/marker');

describe('mastd killed and restarted during config edits', () => {
  test(
    'the gateway keeps its last good config, reconnects, runs the newest edit; no request fails',
    async () => {
      const dir = tempDir('mast-chaos-mastd-');
      const meshDir = tempDir('mast-chaos-mesh-');
      const backend = await spawnBackend('web');
      stopAfter(() => backend.kill());
      let edit = 0;
      writeFileSync(join(meshDir, 'web.yaml'), edited(backend.port, edit));
      const ports = await mastdPorts();
      let mastd = await spawnMastd(meshDir, dir, ports);
      stopAfter(() => mastd.kill());
      const gateway = await spawnMeshGateway(ports, dir);
      stopAfter(() => gateway.kill());
      expect(await marker(gateway.port)).toBe('edit 0');
      const rssBefore = rssMb(gateway.pid);

      const load = new Load({ port: gateway.port, rate: RATE, maxRequests: (RATE * RUN_MS) / 1000 }).start();
      const t0 = Date.now();
      let killed = false;
      let restarted = false;
      // Edits every 250 ms for the whole run; mastd dies at a third of it and comes back at two thirds.
      while (Date.now() - t0 < RUN_MS) {
        writeFileSync(join(meshDir, 'web.yaml'), edited(backend.port, ++edit));
        if (!killed && Date.now() - t0 > RUN_MS / 3) {
          await mastd.kill();
          killed = true;
        }
        if (killed && !restarted && Date.now() - t0 > (2 * RUN_MS) / 3) {
          mastd = await spawnMastd(meshDir, dir, ports);
          restarted = true;
        }
        await elapse(250, 'an edit every 250 ms is the scenario');
      }
      const result = await load.completed();
      expect(restarted).toBe(true);
      // The newest edit reaches the gateway through the new mastd.
      await until(`the gateway to run edit ${edit}`, async () => (await marker(gateway.port)) === `edit ${edit}`, 10_000);
      const rssAfter = rssMb(gateway.pid);
      record(
        loadRow('mastd killed and restarted during edits', result, {
          rss: [{ process: 'gateway', beforeMb: rssBefore, afterMb: rssAfter }],
          durationS: RUN_MS / 1000,
        }),
      );
      expect(reasons(result.failed)).toEqual({});
      expect(result.requests).toBe((RATE * RUN_MS) / 1000);
    },
    timeoutFor(RUN_MS),
  );
});
