/**
 * The setting of Istio's edition.cnn.com egress tasks on `mast local`: the example's mesh (access
 * logs on) and edition.cnn.com as a test server on `address` (external-host.ts), started before
 * the file's tests and stopped after them; sleep's `curl` is productpage's sidecar (fromWorkload).
 */
import { fromWorkload, startExample, type Running } from '../support';
import { accessLog, cnnServiceEntry } from './cnn-mesh';
import { startExternalHost, type ExternalHost } from './external-host';

export interface CnnTask {
  readonly cnn: ExternalHost;
  readonly mesh: Running;
  /** `curl -sSL -o /dev/null -D - <url>` from sleep, without following a redirect. */
  curl(url?: string): ReturnType<typeof fromWorkload>;
  /** A process's access log lines: `egress gateway` (`kubectl logs -l istio=egressgateway`), `sidecar productpage-v1.default`. */
  log(process: string): Array<Record<string, unknown>>;
  /** The ServiceEntry `cnn` with the test's host as its endpoint. */
  serviceEntry(): string;
}

export function cnnTask(address: string): CnnTask {
  let cnn: ExternalHost | undefined;
  let mesh: Running | undefined;
  beforeAll(async () => {
    cnn = await startExternalHost(address, ['edition.cnn.com']);
    mesh = await startExample({ accessLog: true });
  }, 90_000);
  afterAll(async () => {
    await mesh?.stop();
    await cnn?.close();
  });
  const started = <T>(v: T | undefined) => {
    if (!v) throw new Error('the cnn task is not started (beforeAll failed)');
    return v;
  };
  return {
    get cnn() {
      return started(cnn);
    },
    get mesh() {
      return started(mesh);
    },
    curl: (url = 'http://edition.cnn.com/politics') => fromWorkload(started(mesh).mesh, 'productpage-v1', url),
    log: (process) => accessLog(started(mesh).logs, process),
    serviceEntry: () => cnnServiceEntry(started(cnn)),
  };
}
