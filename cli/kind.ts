/**
 * `mast kind up|down|smoke`: from `dist/` to the example running on a local kind cluster
 * (`npm run kind:up` synthesizes first), and back. `--dry-run` prints the plan instead.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadYaml } from '../api';
import { detectEngine, probeHere, type Probe } from './kind/engine';
import { describeStep, kindDownPlan, kindUpPlan, type Manifest, type Step } from './kind/plan';
import { runSteps, StepFailed } from './kind/run';
import { smoke } from './kind/smoke';
import { parse, UsageError } from './args';
import { USAGE as USAGES } from './usage';

const USAGE = USAGES.kind;

export function readManifests(dir: string): Manifest[] {
  if (!existsSync(dir)) throw new UsageError(`no manifests in ${dir}/: run \`npm run synth\` first`);
  const files = readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
  if (files.length === 0) throw new UsageError(`no manifests in ${dir}/: run \`npm run synth\` first`);
  return files.map((f) => ({ file: join(dir, f), objects: loadYaml(readFileSync(join(dir, f), 'utf8'), join(dir, f)).objects }));
}

/** The plan for `up` or `down`; `up` needs kind, kubectl and an engine that can hand kind the images. */
export function planFor(
  command: 'up' | 'down',
  o: { name: string; dist: string; httpPort: number; engine?: string },
  probe: Probe = probeHere,
): Step[] {
  if (command === 'down') return kindDownPlan({ name: o.name });
  for (const tool of ['kind', 'kubectl'])
    if (!probe([tool, 'version', ...(tool === 'kubectl' ? ['--client'] : [])]).ok)
      throw new UsageError(`${tool} is not installed: see the README's kind section`);
  const found = detectEngine(probe, o.engine);
  if (!found.engine) throw new UsageError(`no container engine to load the images from (${found.tried.join('; ')})`);
  return kindUpPlan(readManifests(o.dist), found.engine, join(tmpdir(), `mast-kind-${o.name}`), { name: o.name, httpPort: o.httpPort });
}

export async function runKind(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    if (command !== 'up' && command !== 'down' && command !== 'smoke')
      throw new UsageError(`unknown subcommand "${command ?? ''}"\nUsage: ${USAGE}`);
    const opts = parse(
      rest,
      {
        name: { type: 'string', default: 'mast' },
        dist: { type: 'string', default: 'dist' },
        'http-port': { type: 'string', default: '8080' },
        engine: { type: 'string' },
        url: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
      },
      USAGE,
    );
    if (command === 'smoke') {
      const results = await smoke(opts.url ?? `http://127.0.0.1:${opts['http-port']}`);
      for (const r of results) console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name}: ${r.detail}`);
      return results.every((r) => r.ok) ? 0 : 1;
    }
    const steps = planFor(command, { name: opts.name, dist: opts.dist, httpPort: Number(opts['http-port']), engine: opts.engine });
    if (opts['dry-run']) {
      steps.forEach((s, i) => console.log(`${i + 1}. ${s.why}: ${describeStep(s)}`));
      return 0;
    }
    runSteps(steps);
    if (command === 'up')
      console.log(
        `mesh is up on kind-${opts.name}: curl -H 'Host: alpha.example.com' http://127.0.0.1:${opts['http-port']}/productpage  (npm run kind:smoke checks it)`,
      );
    return 0;
  } catch (err) {
    if (!(err instanceof UsageError) && !(err instanceof StepFailed)) throw err;
    console.error(`mast kind: ${err.message}`);
    return err instanceof UsageError ? 2 : 1;
  }
}
