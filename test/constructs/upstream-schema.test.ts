import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Testing } from 'cdk8s';
import { allCrds, telemetryCrd } from '../../api';
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

/**
 * mast's CRDs against Istio's schemas, leaf by leaf: a value Istio's schema takes at a field must be
 * stored by mast's CRD too (an Istio install's objects survive mast's CRDs). Each probe sets one
 * field (its parents made up around it) to a value of another type than mast's CRD says; Istio's
 * schema must refuse it at that field (its other complaints, such as required siblings, do not count).
 */
describe("mast's CRDs are no stricter than Istio's", () => {
  type Node = Record<string, any>;
  type Leaf = { at: string; node: Node; wrap: (v: unknown) => unknown };
  const SAMPLES: unknown[] = ['text', 7, 7.5, true];
  const accepts = (node: Node, v: unknown): boolean => {
    if (node['x-kubernetes-int-or-string']) return typeof v === 'string' || Number.isInteger(v);
    if (node.type === 'integer') return Number.isInteger(v);
    if (node.type === 'number') return typeof v === 'number';
    return typeof v === node.type;
  };
  /** Every primitive leaf of a schema: its instance path as the validator names it, and a function that builds a spec holding a value there. */
  function leaves(node: Node, wrap: (v: unknown) => unknown, at: string): Leaf[] {
    if (node.properties)
      return Object.entries(node.properties as Record<string, Node>).flatMap(([k, child]) =>
        leaves(child, (v) => wrap({ [k]: v }), `${at}/${k}`),
      );
    if (node.items) return leaves(node.items, (v) => wrap([v]), `${at}/0`);
    if (typeof node.additionalProperties === 'object') return leaves(node.additionalProperties, (v) => wrap({ k: v }), `${at}/k`);
    return node.type === 'object' || node.type === 'array' ? [] : [{ at, node, wrap }];
  }

  test('a value of another type than mast declares is refused by Istio too, at every field of every kind', () => {
    const probes: Array<{ apiVersion: string; kind: string; metadata: { name: string }; spec: unknown }> = [];
    const at: string[] = [];
    for (const crd of [...allCrds(), telemetryCrd()] as any[]) {
      const version = crd.spec.versions.find((v: any) => v.storage);
      for (const leaf of leaves(version.schema.openAPIV3Schema.properties.spec, (v) => v, 'data/spec'))
        for (const v of SAMPLES.filter((s) => !accepts(leaf.node, s))) {
          at.push(`${crd.spec.names.kind} ${leaf.at} = ${JSON.stringify(v)}`);
          probes.push({
            apiVersion: `${crd.spec.group}/${version.name}`,
            kind: crd.spec.names.kind,
            metadata: { name: String(probes.length) },
            spec: leaf.wrap(v),
          });
        }
    }
    expect(probes.length).toBeGreaterThan(500);
    const { errors } = checkUpstream(probes);
    const refusedThere = (i: number) => {
      const path = at[i].split(' ')[1];
      return errors.some((e) => e.name === String(i) && e.message.split(', ').some((m) => m.startsWith(`${path} `)));
    };
    // The probes Istio's schema took at their field: mast's CRD would refuse them (a stricter type).
    expect(
      probes
        .map((_, i) => i)
        .filter((i) => !refusedThere(i))
        .map((i) => at[i]),
    ).toEqual([]);
    // Not vacuous: the same probe with mast's own type is not refused at that field.
    const control = checkUpstream([
      { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'c' }, spec: { ports: [{ number: 7 }] } },
    ]);
    expect(control.errors[0].message.split(', ').filter((m) => m.startsWith('data/spec/ports/0/number '))).toEqual([]);
    expect(errors.find((e) => at[Number(e.name)] === 'ServiceEntry data/spec/ports/0/number = "text"')?.message).toMatch(
      /data\/spec\/ports\/0\/number must be integer/,
    );
  });
});
