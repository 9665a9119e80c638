import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadFiles, loadYaml, sourceOf, validate } from '../../api';

const TEXT = `# two documents and a List
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
    - route:
        - destination:
            host: reviews
          weight: 0
---
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Service
    metadata:
      name: reviews
    spec:
      selector: { app: reviews }
`;

describe('loadYaml', () => {
  test('loads every document, unrolling Lists', () => {
    const { objects, findings } = loadYaml(TEXT, 'mesh.yaml');
    expect(findings).toEqual([]);
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(['VirtualService/reviews', 'Service/reviews']);
  });

  test('remembers the file and the line of each field', () => {
    const { objects } = loadYaml(TEXT, 'mesh.yaml');
    const source = sourceOf(objects[0])!;
    expect(source).toMatchObject({ file: 'mesh.yaml', line: 2 });
    expect(source.lineOf('spec.http[0].route[0].weight')).toBe(12);
    expect(source.lineOf('spec.http[0].route')).toBe(9);
    expect(source.lineOf('spec.http[0].nothing.here')).toBe(9);
    expect(sourceOf(objects[1])!.lineOf('spec.selector')).toBe(22);
  });

  test('findings from loaded objects carry file and line', () => {
    const { objects } = loadYaml(TEXT, 'mesh.yaml');
    const [f] = validate(objects).filter((x) => x.code === 'MAST0101');
    expect(f).toMatchObject({ file: 'mesh.yaml', line: 9, path: 'spec.http[0].route' });
  });

  test('a syntax error is MAST0008 with its line, and the other documents still load', () => {
    const { objects, findings } = loadYaml(
      'apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\nkey: [unclosed\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: b}\n',
      'bad.yaml',
    );
    expect(objects.map((o) => o.metadata.name)).toEqual(['a', 'b']);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ code: 'MAST0008', severity: 'Error', file: 'bad.yaml' });
    expect(findings[0].line).toBeGreaterThanOrEqual(5);
  });

  test('duplicate keys are an error, not a silent overwrite', () => {
    const { findings } = loadYaml('apiVersion: v1\nkind: Service\nkind: Pod\nmetadata: {name: a}\n');
    expect(findings.map((f) => f.code)).toEqual(['MAST0008']);
  });

  test('a document that is not a Kubernetes object is reported', () => {
    const { objects, findings } = loadYaml('just: data\n', 'x.yaml');
    expect(objects).toEqual([]);
    expect(findings[0].message).toMatch(/not a Kubernetes object/);
  });

  test('empty documents are skipped', () => {
    expect(loadYaml('---\n---\n')).toEqual({ objects: [], findings: [] });
  });
});

describe('size limits: what is too large is refused before it is parsed', () => {
  const service = (name: string) => `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}}\n`;
  // A document of 3.5 MiB: a long comment counts as much as data (it is parsed all the same).
  const huge = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: huge}\n${`# ${'x'.repeat(1000)}\n`.repeat(3600)}`;

  test('a document over 3 MiB is MAST0010 with its line; the documents around it load, with their own lines', () => {
    const text = `${service('a')}---\n${huge}---\n${service('b')}`;
    const { objects, findings } = loadYaml(text, 'big.yaml');
    expect(objects.map((o) => o.metadata.name)).toEqual(['a', 'b']);
    expect(findings).toEqual([
      expect.objectContaining({
        code: 'MAST0010',
        file: 'big.yaml',
        line: 4,
        message: expect.stringMatching(/^a YAML document of 3,6\d\d,\d\d\d bytes was not read: at most 3,145,728/),
      }),
    ]);
    expect(sourceOf(objects[1])).toMatchObject({ line: text.split('\n').lastIndexOf('apiVersion: v1') + 1 });
  });

  test('a file over 8 MiB is not read (MAST0011); with a last good read, what it held is kept', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mast-load-'));
    try {
      const file = join(dir, 'mesh.yaml');
      writeFileSync(file, `${service('kept')}---\n${service('also-kept')}`);
      const lastGood = new Map();
      expect(loadFiles([dir], lastGood).objects.map((o) => o.metadata.name)).toEqual(['kept', 'also-kept']);
      writeFileSync(file, `${service('new')}${'#'.repeat(9 * 1024 * 1024)}\n`);
      const refused = loadFiles([dir], lastGood);
      expect(refused.objects.map((o) => o.metadata.name)).toEqual(['kept', 'also-kept']);
      expect(refused.findings).toEqual([
        expect.objectContaining({
          code: 'MAST0011',
          file,
          message: expect.stringMatching(
            /^the file is 9,437,\d+ bytes and was not read: at most 8,388,608; what it held when last read is kept$/,
          ),
        }),
      ]);
      expect(loadFiles([dir]).objects).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
