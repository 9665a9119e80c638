/**
 * A soak with config churn: steady load through a gateway fed by mastd while the mesh is edited
 * every second (a route added, then changed, a new version pushed each time). Nothing fails, and
 * neither process grows: VmRSS after the run within 15 MB of its value after the warm-up (the
 * issue's bound). Bounded: 100 requests/s for 6 s in `npm test`, 60 s under `npm run chaos`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/temp-dir';
import { stoppedAfterEach, until } from '../support/proxy';
import { elapse } from '../support/quiet';
import { LONG, span, timeoutFor } from './duration';
import { Load, reasons } from './load';
import { getText, mastdPorts, spawnBackend, spawnMastd, spawnMeshGateway, webMesh } from './processes';
import { loadRow, record } from './report';
import { rssMb } from './rss';

const { stopAfter } = stoppedAfterEach();
const RUN_MS = span(6000, 60_000);
const WARMUP_MS = span(2000, 10_000);
const RATE = 100;
/** The bound on growth over a soak. */
const FLAT_MB = 15;

/** Edit `n`: a handful of routes whose matches and answers change with each edit. */
const edited = (backends: number[], n: number) =>
  webMesh(
    backends,
    Array.from(
      { length: 5 },
      (_, i) =>
        `    - match: [{ uri: { prefix: /churn-${i}-${n} } }]\n      directResponse: { status: 200, body: { string: "edit ${n}" } }\n`,
    ).join(''),
  );

describe('soak with config churn', () => {
  test(
    `an edit every second under load: no request fails, gateway and mastd RSS flat within ${FLAT_MB} MB`,
    async () => {
      const dir = tempDir('mast-chaos-soak-');
      const meshDir = tempDir('mast-chaos-soak-mesh-');
      const backends = [await spawnBackend('a'), await spawnBackend('b')];
      for (const b of backends) stopAfter(() => b.kill());
      const ports = backends.map((b) => b.port);
      let edit = 0;
      writeFileSync(join(meshDir, 'web.yaml'), edited(ports, edit));
      const mpd = await mastdPorts();
      const mastd = await spawnMastd(meshDir, dir, mpd);
      stopAfter(() => mastd.kill());
      const gateway = await spawnMeshGateway(mpd, dir);
      stopAfter(() => gateway.kill());

      const load = new Load({ port: gateway.port, rate: RATE, maxRequests: (RATE * RUN_MS) / 1000, path: (i) => `/item/${i}` }).start();
      const t0 = Date.now();
      let before: { gateway: number; mastd: number } | undefined;
      while (Date.now() - t0 < RUN_MS) {
        writeFileSync(join(meshDir, 'web.yaml'), edited(ports, ++edit));
        if (!before && Date.now() - t0 >= WARMUP_MS) before = { gateway: rssMb(gateway.pid), mastd: rssMb(mastd.pid) };
        await elapse(1000, 'an edit a second under load is the soak');
      }
      const result = await load.completed();
      await until(
        `the gateway to run edit ${edit}`,
        async () => (await getText(gateway.port, `/churn-0-${edit}`)) === `edit ${edit}`,
        10_000,
      );
      const after = { gateway: rssMb(gateway.pid), mastd: rssMb(mastd.pid) };
      record(
        loadRow(`soak, an edit every second (${edit} edits)`, result, {
          rss: [
            { process: 'gateway', beforeMb: before!.gateway, afterMb: after.gateway },
            { process: 'mastd', beforeMb: before!.mastd, afterMb: after.mastd },
          ],
          durationS: RUN_MS / 1000,
        }),
      );
      expect(reasons(result.failed)).toEqual({});
      expect(result.requests).toBe((RATE * RUN_MS) / 1000);
      expect(edit).toBeGreaterThanOrEqual(LONG ? 55 : 5);
      expect(after.gateway - before!.gateway).toBeLessThanOrEqual(FLAT_MB);
      expect(after.mastd - before!.mastd).toBeLessThanOrEqual(FLAT_MB);
    },
    timeoutFor(RUN_MS),
  );
});
