/**
 * The layers of ../shared/DESIGN.md, held: every import of every source file is checked against
 * the layer rules (api at the bottom; constructs → api; lib → constructs, api; the runtime's
 * contract and compiler → api; proxy and control → contract, compiler, api; cli → anything;
 * nothing imports cli, bench, examples or test), and import circles are found with the module
 * graph's strongly connected components.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import * as ts from 'typescript';

const ROOT = join(__dirname, '..');

/** A layer: the folder (longest prefix wins) and the layers it may import. */
const LAYERS: Record<string, readonly string[]> = {
  api: ['api'],
  constructs: ['constructs', 'api'],
  lib: ['lib', 'constructs', 'api'],
  'runtime/contract': ['runtime/contract', 'api'],
  'runtime/compile': ['runtime/compile', 'runtime/contract', 'api'],
  'runtime/proxy': ['runtime/proxy', 'runtime/contract', 'api'],
  'runtime/control': ['runtime/control', 'runtime/compile', 'runtime/contract', 'api'],
  'runtime/local': ['runtime/local', 'runtime/proxy', 'runtime/control', 'runtime/compile', 'runtime/contract', 'api'],
  examples: ['examples', 'constructs', 'api'],
  cli: ['cli', 'lib', 'constructs', 'runtime', 'examples', 'api'],
  bin: ['bin', 'cli', 'lib', 'constructs', 'examples', 'api'],
  test: ['test', 'bin', 'cli', 'lib', 'constructs', 'runtime', 'examples', 'api'],
  bench: ['bench', 'runtime', 'api'],
};
/** `--mesh` compiles YAML itself: the one proxy file that may use the compiler. */
const EXCEPTIONS: Record<string, readonly string[]> = { 'runtime/proxy/mesh-file.ts': ['runtime/compile'] };
/** Packages the runtime must never load (it runs in the proxy and mastd images, without them). */
const CDK_PACKAGES = ['aws-cdk-lib', 'cdk8s', 'cdk8s-plus-27', 'constructs', 'cdk-nag'];

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules' || name === '__snapshots__' || name === 'build') return [];
    if (statSync(join(ROOT, path)).isDirectory()) return sourceFiles(path);
    return /\.ts$/.test(name) && !name.endsWith('.d.ts') ? [path.split(sep).join('/')] : [];
  });
}

const layerOf = (file: string) =>
  Object.keys(LAYERS)
    .filter((l) => file === l || file.startsWith(`${l}/`))
    .sort((a, b) => b.length - a.length)[0];

/** The project file an import names (`./x` → `x.ts` or `x/index.ts`), or the package name. */
function resolve(from: string, spec: string, files: ReadonlySet<string>): { file?: string; pkg?: string } {
  if (!spec.startsWith('.')) return { pkg: spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0] };
  const base = join(dirname(from), spec).split(sep).join('/');
  const file = [base, `${base}.ts`, `${base}/index.ts`].find((f) => files.has(f));
  return file ? { file } : {};
}

interface Edge {
  readonly from: string;
  readonly to?: string;
  readonly pkg?: string;
  readonly spec: string;
}

function importGraph(): { files: string[]; edges: Edge[] } {
  const files = [...new Set(Object.keys(LAYERS).map((l) => l.split('/')[0]))].flatMap(sourceFiles);
  const set = new Set(files);
  const edges = files.flatMap((from) =>
    ts.preProcessFile(readFileSync(join(ROOT, from), 'utf8'), true, true).importedFiles.map(({ fileName: spec }) => {
      const r = resolve(from, spec, set);
      return { from, to: r.file, pkg: r.pkg, spec };
    }),
  );
  return { files, edges };
}

/** Import circles: strongly connected components of more than one file (Tarjan). */
function circles(files: string[], edges: Edge[]): string[][] {
  const next = new Map<string, string[]>(files.map((f) => [f, []]));
  for (const e of edges) if (e.to && e.to !== e.from) next.get(e.from)!.push(e.to);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v)!) {
      if (!index.has(w)) visit(w), low.set(v, Math.min(low.get(v)!, low.get(w)!));
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      for (let w = stack.pop()!; ; w = stack.pop()!) {
        onStack.delete(w);
        scc.push(w);
        if (w === v) break;
      }
      if (scc.length > 1) found.push(scc.sort());
    }
  };
  for (const f of files) if (!index.has(f)) visit(f);
  return found.sort((a, b) => a[0].localeCompare(b[0]));
}

/** Imports that break the layer rules, as `from → to` lines. */
function violations(edges: Edge[]): string[] {
  return edges.flatMap((e) => {
    const layer = layerOf(e.from);
    if (e.pkg) return layer.startsWith('runtime') && CDK_PACKAGES.includes(e.pkg) ? [`${e.from} → ${e.pkg}`] : [];
    if (!e.to) return e.spec.endsWith('.json') ? [] : [`${e.from} → ${e.spec} (not a project file)`];
    const target = layerOf(e.to);
    const allowed = [...LAYERS[layer], ...(EXCEPTIONS[e.from] ?? [])];
    return allowed.some((a) => target === a || target.startsWith(`${a}/`)) ? [] : [`${e.from} → ${e.to}`];
  });
}

describe('architecture', () => {
  const { files, edges } = importGraph();

  test('every source file is in a layer', () => {
    expect(files.length).toBeGreaterThan(100);
    expect(files.filter((f) => !layerOf(f))).toEqual([]);
  });

  test('no import breaks the layer rules', () => {
    expect(violations(edges)).toEqual([]);
  });

  test('the checks catch a planted violation and a planted circle', () => {
    const planted: Edge[] = [
      { from: 'runtime/proxy/accept.ts', to: 'runtime/control/mastd.ts', spec: '../control/mastd' },
      { from: 'api/index.ts', to: 'constructs/index.ts', spec: '../constructs' },
      { from: 'runtime/contract/routing.ts', pkg: 'cdk8s', spec: 'cdk8s' },
    ];
    expect(violations(planted)).toEqual([
      'runtime/proxy/accept.ts → runtime/control/mastd.ts',
      'api/index.ts → constructs/index.ts',
      'runtime/contract/routing.ts → cdk8s',
    ]);
    const a = 'api/a.ts';
    const b = 'api/b.ts';
    expect(
      circles(
        [a, b],
        [
          { from: a, to: b, spec: './b' },
          { from: b, to: a, spec: './a' },
        ],
      ),
    ).toEqual([[a, b]]);
  });

  test('no import circles', () => {
    expect(circles(files, edges).map((c) => c.join(' ⇄ '))).toEqual([]);
  });
});
