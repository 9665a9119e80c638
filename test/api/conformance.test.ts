/**
 * Conformance against ../shared/reference (outside the project, not copied in): Istio's analyzer
 * corpus and Bookinfo's traffic rules. Skipped, with a printed reason, where that folder is absent.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Testing } from 'cdk8s';
import { loadFiles } from '../../api';
import { Mesh, MeshResource } from '../../constructs';

const ROOT = join(__dirname, '..', '..');
const REFERENCE = join(ROOT, '..', 'shared', 'reference');
const present = existsSync(REFERENCE);
if (!present) console.log(`conformance tests skipped: ${REFERENCE} not found`);
const maybe = present ? describe : describe.skip;

maybe('conformance with the reference data', () => {
  // About 70 starts of the CLI (the corpus's own check runs `npx mast validate` once per case): a
  // few minutes on an idle 2-core machine, more on a loaded one; the bound is for a hang, not speed.
  test('npm run conformance: all Istio analyzer cases agree and every Bookinfo rule validates', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'conformance.mjs')], { cwd: ROOT, encoding: 'utf8', timeout: 900_000 });
    expect(r.stdout).toMatch(/istio analyzer corpus: 49\/49 cases agree/);
    expect(r.stdout).toMatch(/bookinfo traffic rules: (\d+)\/\1 validate without errors/);
    expect(r.status).toBe(0);
  }, 900_000);

  test('every Bookinfo file converts into typed constructs', () => {
    const dir = join(REFERENCE, 'bookinfo-networking');
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
      const { objects, findings } = loadFiles([join(dir, file)]);
      expect(findings).toEqual([]);
      const mesh = new Mesh(Testing.app(), 'mesh');
      mesh.addObjects(objects);
      const meshKinds = objects.filter((o) => o.apiVersion.includes('istio.io'));
      expect(mesh.apps.node.children.filter(MeshResource.isMeshResource)).toHaveLength(meshKinds.length);
    }
  });
});
