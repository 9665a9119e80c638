/**
 * The egress tasks' sleep with captured traffic (`mast local --intercept`): an app in productpage's
 * network namespace, edition.cnn.com a server of the test on this machine's end of that namespace's
 * link (external-host.ts), its CA trusted by the app. Needs root, `ip netns` and iptables.
 */
import { execFile } from 'node:child_process';
import { interceptUnavailable } from '../../../runtime/local/netns';
import { ensureCommand } from '../../support/apt';
import { startExample, type Running } from '../support';
import { startExternalHost, type ExternalHost } from './external-host';

/** Why captured tests cannot run here (printed, and the suite skipped), or undefined. */
export function captureUnavailable(task: string): string | undefined {
  const reason = process.getuid?.() === 0 ? (ensureCommand('iptables-restore', 'iptables') ?? interceptUnavailable()) : 'needs root';
  if (reason) console.log(`${task} with --intercept skipped: ${reason}`);
  return reason;
}

export interface CapturedSleep {
  readonly mesh: Running;
  readonly cnn: ExternalHost;
  /** Runs `code` with node as sleep (in productpage's namespace): its stdout, trimmed. */
  run(code: string): Promise<string>;
}

/** The mesh and edition.cnn.com, started before the file's tests and stopped after them; filled in by beforeAll. */
export function capturedSleep(): CapturedSleep {
  const state = {} as { mesh: Running; cnn: ExternalHost; netns: string };
  beforeAll(async () => {
    state.mesh = await startExample({ intercept: true });
    const pp = state.mesh.mesh.workloads.get('default/productpage-v1')!;
    state.netns = pp.netns!.name;
    state.cnn = await startExternalHost(pp.netns!.gateway, ['edition.cnn.com']);
  }, 90_000);
  afterAll(async () => {
    await state.mesh?.stop();
    await state.cnn?.close();
  });
  return {
    get mesh() {
      return state.mesh;
    },
    get cnn() {
      return state.cnn;
    },
    run: (code) =>
      new Promise((resolve, reject) =>
        execFile(
          'ip',
          ['netns', 'exec', state.netns, process.execPath, '-e', code],
          { timeout: 10_000, env: { ...process.env, NODE_EXTRA_CA_CERTS: state.cnn.ca } },
          (err, stdout) => (err ? reject(err) : resolve(stdout.trim())),
        ),
      ),
  };
}
