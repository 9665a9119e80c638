/** Which container engine builds the images here: the first of docker (with a daemon), podman, buildah that answers. */
import { spawnSync } from 'node:child_process';
import { ENGINES, probeCommand, type Engine } from './images';

export interface Detection {
  readonly engine?: Engine;
  /** What each engine tried said, for the error when none works. */
  readonly tried: string[];
}

export type Probe = (command: readonly string[]) => { ok: boolean; detail: string };

export const probeHere: Probe = (command) => {
  const r = spawnSync(command[0], command.slice(1), { encoding: 'utf8', timeout: 15_000 });
  if (r.error) return { ok: false, detail: (r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not installed' : r.error.message };
  return { ok: r.status === 0, detail: r.status === 0 ? 'ok' : (r.stderr || r.stdout).trim().split('\n')[0] || `exit ${r.status}` };
};

export function detectEngine(probe: Probe = probeHere, preferred?: string): Detection {
  const tried: string[] = [];
  for (const engine of preferred ? ENGINES.filter((e) => e === preferred) : ENGINES) {
    const r = probe(probeCommand(engine));
    if (r.ok) return { engine, tried };
    tried.push(`${engine}: ${r.detail}`);
  }
  return { tried };
}
