/**
 * `mast images`: builds the proxy, control-plane and example images with docker, podman or buildah,
 * whichever is here. The Dockerfiles build their own bundles, so nothing is built beforehand; the
 * context is the repository's or the installed package's root (the one `cdk deploy` uses), wherever
 * the command is run from.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { detectEngine, probeHere, type Probe } from './kind/engine';
import { IMAGES, buildCommand } from './kind/images';
import { parse, UsageError } from './args';
import { USAGE as USAGES } from './usage';
import { IMAGE_CONTEXT } from '../lib/image-context';

const USAGE = USAGES.images;

export function imagePlan(
  probe: Probe = probeHere,
  preferred?: string,
  exists: (f: string) => boolean = (f) => existsSync(join(IMAGE_CONTEXT, f)),
): { engine: string; context: string; commands: string[][] } {
  const missing = [...new Set(IMAGES.flatMap((i) => i.inputs))].filter((f) => !exists(f));
  if (missing.length)
    throw new UsageError(`the image build context ${IMAGE_CONTEXT} lacks what the Dockerfiles copy: ${missing.join(', ')}`);
  const found = detectEngine(probe, preferred);
  if (!found.engine)
    throw new UsageError(
      `no container engine available to build the images (${found.tried.join('; ')}); install docker, podman or buildah`,
    );
  return { engine: found.engine, context: IMAGE_CONTEXT, commands: IMAGES.map((i) => buildCommand(found.engine!, i)) };
}

export async function runImages(args: string[]): Promise<number> {
  try {
    const opts = parse(args, { engine: { type: 'string' }, 'dry-run': { type: 'boolean', default: false } }, USAGE);
    const plan = imagePlan(probeHere, opts.engine);
    console.log(`building ${IMAGES.length} images with ${plan.engine} in ${plan.context}`);
    for (const command of plan.commands) {
      console.log(`$ ${command.join(' ')}`);
      if (opts['dry-run']) continue;
      const r = spawnSync(command[0], command.slice(1), { stdio: 'inherit', cwd: plan.context });
      if (r.status !== 0) {
        console.error(`mast images: ${command[0]} build failed (${r.error?.message ?? `exit ${r.status}`})`);
        return 1;
      }
    }
    if (!opts['dry-run']) console.log(`built ${IMAGES.map((i) => i.tag).join(', ')} with ${plan.engine}`);
    return 0;
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`mast images: ${err.message}`);
    return 2;
  }
}
