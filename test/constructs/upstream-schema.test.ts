import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Testing } from 'cdk8s';
import { Mesh } from '../../constructs';
import { addBookinfo } from '../../examples/bookinfo/bookinfo';
import { tempDir } from '../support/temp-dir';
import { testApp } from '../support/test-app';

/** Runs the ESM-only upstream models in a child process (see test/support/upstream-schema.mjs). */
function checkUpstream(objects: unknown[]): { checked: number; errors: Array<{ kind: string; name: string; message: string }> } {
  const file = join(tempDir('mast-upstream-'), 'objects.json');
  writeFileSync(file, JSON.stringify(objects));
  const out = execFileSync(process.execPath, [join(__dirname, '..', 'support', 'upstream-schema.mjs'), file], { encoding: 'utf8' });
  return JSON.parse(out);
}

describe('synthesized objects validate against the upstream schemas', () => {
  const app = testApp();
  const mesh = new Mesh(app, 'mesh');
  addBookinfo(mesh);
  const objects = [mesh.crds, mesh.system, mesh.apps].flatMap((c) => Testing.synth(c));

  test('every mesh resource against Istio 1.29, every Kubernetes object against kubernetes-models', () => {
    const result = checkUpstream(objects);
    expect(result.errors).toEqual([]);
    expect(result.checked).toBe(objects.length);
  });

  test('the check is real: a mistyped resource fails it', () => {
    const result = checkUpstream([
      {
        apiVersion: 'networking.istio.io/v1',
        kind: 'VirtualService',
        metadata: { name: 'x' },
        spec: { hosts: ['a'], http: [{ route: [{ destination: { host: 'a' }, weight: 'x' }] }] },
      },
    ]);
    expect(result.errors[0].message).toMatch(/weight must be integer/);
  });
});
