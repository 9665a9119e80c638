/**
 * The whole-mesh analysis (`validate()`, as `istioctl analyze`) on a worker thread: it takes
 * hundreds of milliseconds on a large mesh, and on mastd's event loop it would hold up the next
 * push and the ACKs of the last one. The bundled mastd starts its own file again as the worker.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { validate, type Finding, type KubeObject, type ValidateOptions } from '../../api';

const ROLE = 'mast-analysis';

export type Analyzer = (objects: readonly KubeObject[], options: ValidateOptions) => Promise<Finding[]>;

/** True in the worker thread this module started (the entry point then serves instead of running mastd). */
export const isAnalysisWorker = (): boolean => !isMainThread && (workerData as { role?: string } | null)?.role === ROLE;

/** The worker side: one analysis per message, in order. */
export function serveAnalysis(): void {
  parentPort!.on('message', ({ id, objects, options }: { id: number; objects: KubeObject[]; options: ValidateOptions }) => {
    try {
      parentPort!.postMessage({ id, findings: validate(objects, options) });
    } catch (err) {
      parentPort!.postMessage({ id, error: (err as Error).message });
    }
  });
}

/** Analyses on a worker running `file` (the bundle); a worker that fails is replaced on the next call. */
export function workerAnalyzer(file: string): Analyzer & { close(): Promise<void>; readonly done: () => number } {
  let worker: Worker | undefined;
  let next = 0;
  let done = 0;
  const waiting = new Map<number, { resolve: (f: Finding[]) => void; reject: (e: Error) => void }>();
  const failAll = (err: Error) => {
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
    worker = undefined;
  };
  const start = () => {
    const w = new Worker(file, { workerData: { role: ROLE } });
    w.unref();
    w.on('message', (m: { id: number; findings?: Finding[]; error?: string }) => {
      const p = waiting.get(m.id);
      waiting.delete(m.id);
      if (m.findings) done++, p?.resolve(m.findings);
      else p?.reject(new Error(m.error ?? 'analysis failed'));
    });
    w.on('error', (err) => failAll(err));
    w.on('exit', () => failAll(new Error('the analysis worker exited')));
    return w;
  };
  const analyze = (objects: readonly KubeObject[], options: ValidateOptions) =>
    new Promise<Finding[]>((resolve, reject) => {
      worker ??= start();
      const id = ++next;
      waiting.set(id, { resolve, reject });
      worker.postMessage({ id, objects, options });
    });
  return Object.assign(analyze, { close: async () => void (await worker?.terminate()), done: () => done });
}
