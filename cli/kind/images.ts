/**
 * The three images mast runs (proxy, control plane, the example's apps), tagged with the package
 * version, and how each container engine builds them. Pure: the commands are data, run elsewhere.
 */
import { MAST_VERSION } from '../../constructs/version';

export interface ImageSpec {
  readonly tag: string;
  readonly dockerfile: string;
  /** Files and directories (ending in `/`) the Dockerfile copies from the context: sources, nothing built beforehand. */
  readonly inputs: readonly string[];
  /** The bundle its build stage makes with scripts/bundle.mjs (the same file `npm run build` writes to build/). */
  readonly bundle: string;
}

/** What every image's bundle stage copies: the locked build dependencies, the bundling script and the sources. */
const BUNDLE_INPUTS = [
  'images/build/package.json',
  'images/build/package-lock.json',
  'tsconfig.json',
  'scripts/bundle.mjs',
  'api/',
  'runtime/',
  'examples/bookinfo/app/',
];

export const IMAGES: readonly ImageSpec[] = [
  {
    tag: `mast/proxy:${MAST_VERSION}`,
    dockerfile: 'images/proxy/Dockerfile',
    inputs: [...BUNDLE_INPUTS, 'runtime/proxy/native/original_dst.c', 'runtime/proxy/native/binding.gyp'],
    bundle: 'mast-proxy.js',
  },
  { tag: `mast/control:${MAST_VERSION}`, dockerfile: 'images/control/Dockerfile', inputs: BUNDLE_INPUTS, bundle: 'mastd.js' },
  { tag: `mast/bookinfo:${MAST_VERSION}`, dockerfile: 'images/bookinfo/Dockerfile', inputs: BUNDLE_INPUTS, bundle: 'bookinfo.js' },
];

export type Engine = 'docker' | 'podman' | 'buildah';
export const ENGINES: readonly Engine[] = ['docker', 'podman', 'buildah'];

/** The command that tells whether an engine can build here (docker needs its daemon). */
export function probeCommand(engine: Engine): string[] {
  return engine === 'docker' ? ['docker', 'version', '--format', '{{.Server.Version}}'] : [engine, 'version'];
}

export function buildCommand(engine: Engine, image: ImageSpec, context = '.'): string[] {
  return engine === 'buildah'
    ? ['buildah', 'build', '--layers', '-t', image.tag, '-f', image.dockerfile, context]
    : [engine, 'build', '-t', image.tag, '-f', image.dockerfile, context];
}

/** kind loads images from docker directly; from the others through an archive. */
export function loadCommands(engine: Engine, tags: readonly string[], cluster: string, archiveDir: string): string[][] {
  if (engine === 'docker') return [['kind', 'load', 'docker-image', ...tags, '--name', cluster]];
  return tags.flatMap((tag) => {
    const archive = `${archiveDir}/${tag.replace(/[/:]/g, '_')}.tar`;
    const save =
      engine === 'podman'
        ? ['podman', 'save', '--format', 'docker-archive', '-o', archive, tag]
        : ['buildah', 'push', tag, `docker-archive:${archive}:${tag}`];
    return [save, ['kind', 'load', 'image-archive', archive, '--name', cluster]];
  });
}
