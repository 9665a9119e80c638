/**
 * The images `cdk deploy` builds, checked without docker (no engine or registry is reachable here):
 * the asset directory CDK stages holds everything each Dockerfile copies and nothing of the tests,
 * the bundle stage's own commands succeed when run in a scratch root, and the build dependencies
 * are the repository's locked versions.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { DOCKERFILES, IMAGE_CONTEXT, imageContext, MeshImages } from '../../lib';
import { tempDir } from '../support/temp-dir';

const ROOT = join(__dirname, '..', '..');

interface Instruction {
  readonly op: string;
  readonly args: string;
}
interface Stage {
  readonly from: string;
  readonly name?: string;
  readonly body: Instruction[];
}

/** A Dockerfile's stages: continuation lines joined, comments dropped, global build args (ARG before the first FROM) at their defaults. */
function stagesOf(text: string): Stage[] {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: Stage[] = [];
  const globals = new Map<string, string>();
  for (const line of lines) {
    const [, op, args] = /^(\S+)\s+(.*)$/.exec(line)!;
    if (op === 'ARG' && !stages.length) {
      const [, name, value] = /^(\w+)=(\S+)$/.exec(args)!;
      globals.set(name, value);
    } else if (op === 'FROM') {
      const [, image, name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args)!;
      const from = image.replace(/^\$\{(\w+)\}$/, (_, arg: string) => globals.get(arg) ?? `\${${arg}}`);
      stages.push({ from, name, body: [] });
    } else stages.at(-1)!.body.push({ op, args });
  }
  return stages;
}

const dockerfile = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const IMAGES = Object.values(DOCKERFILES);

/** The sources of a stage's context COPYs (`--from` copies excluded). */
function contextSources(stages: Stage[]): string[] {
  return stages.flatMap((s) =>
    s.body.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from=')).flatMap((i) => i.args.split(/\s+/).slice(0, -1)),
  );
}

describe('image assets', () => {
  let staged: Map<string, string>;
  beforeAll(() => {
    const outdir = tempDir('mast-images-');
    const app = new App({ outdir });
    const stack = new Stack(app, 'Images');
    const images = new MeshImages(stack, 'Images', { arm64: false });
    void images.bookinfo;
    app.synth();
    const manifest = JSON.parse(readFileSync(join(outdir, 'Images.assets.json'), 'utf8'));
    staged = new Map(
      Object.values(manifest.dockerImages as Record<string, { source: { directory: string; dockerFile: string } }>).map((a) => [
        a.source.dockerFile,
        join(outdir, a.source.directory),
      ]),
    );
  });

  test('the stack stages the three images, the example only when asked for', () => {
    expect([...staged.keys()].sort()).toEqual([...IMAGES].sort());
    const app = new App({ outdir: tempDir('mast-images-') });
    const stack = new Stack(app, 'NoExample');
    new MeshImages(stack, 'Images', { arm64: true });
    const assets = JSON.parse(readFileSync(join(app.synth().directory, 'NoExample.assets.json'), 'utf8')).dockerImages;
    expect(
      Object.values(assets)
        .map((a) => (a as { source: { dockerFile: string } }).source.dockerFile)
        .sort(),
    ).toEqual([DOCKERFILES.control, DOCKERFILES.proxy]);
  });

  test.each(IMAGES)('the staged context of %s has every file it copies, and no tests, bench or node_modules', (file) => {
    const dir = staged.get(file)!;
    const sources = contextSources(stagesOf(dockerfile(file)));
    expect(sources).toContain('runtime/');
    for (const src of sources) expect({ src, present: existsSync(join(dir, src)) }).toEqual({ src, present: true });
    expect(existsSync(join(dir, file))).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['.dockerignore', 'api', 'examples', 'images', 'runtime', 'scripts', 'tsconfig.json']);
    expect(readdirSync(join(dir, 'scripts'))).toEqual(['bundle.mjs']);
    expect(readdirSync(join(dir, 'examples'))).toEqual(['bookinfo']);
    expect(readdirSync(join(dir, 'examples', 'bookinfo'))).toEqual(['app']);
  });

  test("every stage starts from node:24-slim pinned by digest (the NODE_IMAGE build arg's default)", () => {
    for (const file of IMAGES)
      for (const stage of stagesOf(dockerfile(file))) expect(stage.from).toMatch(/^node:24\.\d+\.\d+-slim@sha256:[0-9a-f]{64}$/);
  });

  test('the bundle stage, run without docker on the staged context, makes each bundle the final stage copies', () => {
    const bundleStages = IMAGES.map((file) => stagesOf(dockerfile(file)).find((s) => s.name === 'bundle')!);
    // Written the same in the three Dockerfiles, so a layer cache builds it once; run once here.
    for (const stage of bundleStages) expect(stage).toEqual(bundleStages[0]);
    const root = tempDir('mast-image-root-');
    const context = staged.get(DOCKERFILES.proxy)!;
    let cwd = root;
    for (const { op, args } of bundleStages[0].body) {
      if (op === 'WORKDIR') {
        cwd = join(root, args);
        mkdirSync(cwd, { recursive: true });
      } else if (op === 'COPY') {
        const words = args.split(/\s+/);
        const dest = words.at(-1)!;
        const target = isAbsolute(dest) ? join(root, dest) : join(cwd, dest);
        for (const src of words.slice(0, -1)) {
          const from = join(context, src);
          // Docker's rules: a directory's contents go into the destination; a file into it when it ends in '/'.
          const to = statSync(from).isDirectory() || !dest.endsWith('/') ? target : join(target, src.split('/').at(-1)!);
          mkdirSync(statSync(from).isDirectory() ? to : dirname(to), { recursive: true });
          cpSync(from, to, { recursive: true });
        }
      } else if (op === 'RUN') {
        // The commands must stay inside the stage's root for this run to be faithful.
        expect(args).not.toMatch(/(^|\s)\//);
        const r = spawnSync('sh', ['-c', args], {
          cwd,
          encoding: 'utf8',
          timeout: 240_000,
          env: { ...process.env, npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false' },
        });
        expect({ command: args, status: r.status, stderr: r.status === 0 ? '' : r.stderr.slice(-2000) }).toEqual({
          command: args,
          status: 0,
          stderr: '',
        });
      } else throw new Error(`the bundle stage has ${op}, which this test cannot run`);
    }
    for (const file of IMAGES) {
      const copies = stagesOf(dockerfile(file))
        .at(-1)!
        .body.filter((i) => i.op === 'COPY' && i.args.startsWith('--from=bundle '));
      expect(copies).toHaveLength(1);
      // A source may name files with a `*` (the proxy's parts: mast-proxy*.js): each file it matches.
      const source = join(root, copies[0].args.split(/\s+/)[1]);
      const pattern = new RegExp(`^${basename(source).replace(/[.]/g, '\\.').replace(/\*/g, '[^/]*')}$`);
      const built = readdirSync(dirname(source)).filter((name) => pattern.test(name));
      expect(built.length).toBeGreaterThan(0);
      for (const name of built) expect(statSync(join(dirname(source), name)).size).toBeGreaterThan(1000);
      // Every file a copied bundle requires beside it is copied too.
      for (const name of built) {
        const besides = [...readFileSync(join(dirname(source), name), 'utf8').matchAll(/require\("\.\/([^"]+)"\)/g)].map((m) => m[1]);
        for (const file of besides) expect({ [name]: file, copied: built.includes(file) }).toEqual({ [name]: file, copied: true });
      }
    }
  }, 300_000);
});

describe('image build dependencies', () => {
  const lock = (dir: string) => JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8'));
  const build = JSON.parse(readFileSync(join(ROOT, 'images', 'build', 'package.json'), 'utf8'));
  const project = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

  test('are the repository own versions: the same direct versions, every locked package as the repository locks it', () => {
    for (const [name, version] of Object.entries(build.dependencies))
      expect({ name, version }).toEqual({ name, version: project.dependencies[name] ?? project.devDependencies[name] });
    const repo = lock(ROOT).packages;
    const image = lock(join(ROOT, 'images', 'build')).packages;
    expect(image[''].dependencies).toEqual(build.dependencies);
    for (const [path, entry] of Object.entries(image)) {
      if (path === '') continue;
      const { version, integrity } = entry as { version: string; integrity: string };
      expect({ path, version, integrity }).toEqual({ path, version: repo[path]?.version, integrity: repo[path]?.integrity });
    }
    expect(Object.keys(image)).toContain('node_modules/esbuild');
  });
});

test('the build context is found from the source tree and from the compiled out/lib/', () => {
  expect(IMAGE_CONTEXT).toBe(ROOT);
  const has = (files: string[]) => (f: string) => files.includes(f);
  expect(imageContext('/pkg/out/lib', has(['/pkg/images/proxy/Dockerfile']))).toBe('/pkg');
  expect(imageContext('/repo/lib', has(['/repo/images/proxy/Dockerfile']))).toBe('/repo');
  expect(() => imageContext('/elsewhere/out/lib', has([]))).toThrow('MAST_IMAGES_MISSING');
});
