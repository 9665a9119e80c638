/**
 * Conformance against ../shared/reference (outside the project, not copied in): Istio's analyzer
 * corpus and Bookinfo's traffic rules. Skipped, with a printed reason, where that folder is absent.
 *
 * The corpus runs in-process through what `mast validate` runs (loadFiles, then validate() with the
 * default ingress gateway), which takes seconds; `npm run conformance` runs the same corpus through
 * the CLI (the reference's own check.mjs starts `npx mast validate` once per case, minutes), and
 * test/cli covers the CLI itself.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Finding, loadFiles, validate } from '../../api';
import { Mesh, MeshResource } from '../../constructs';
import { testApp } from '../support/test-app';

const ROOT = join(__dirname, '..', '..');
const REFERENCE = join(ROOT, '..', 'shared', 'reference');
const present = existsSync(REFERENCE);
if (!present) console.log(`conformance tests skipped: ${REFERENCE} not found`);
const maybe = present ? describe : describe.skip;

/** What `mast validate -f ... --output json` reports for these files. */
function mastValidate(files: string[]): Finding[] {
  const loaded = loadFiles(files);
  return [...loaded.findings, ...validate(loaded.objects, { defaultIngressGateway: true })];
}

type Expected = { istioCode: string; kind: string; name: string; namespace?: string; message?: string };
type Case = { name: string; files: string[]; checks: string[]; expected: Expected[] };
/**
 * IST0101 comes from several of Istio's analyzers, and each corpus case runs only some of them
 * (istio/istio's analyzers_test.go): a subset no DestinationRule defines (mast's MAST0203) is the
 * virtualservice DestinationRuleAnalyzer's finding, which runs in this case alone. Elsewhere, as
 * in virtualServiceDestinationHosts (subsets and no DestinationRule), istioctl analyze reports it
 * too, but the case does not check it.
 */
const SUBSET_NOT_FOUND = 'MAST0203';
const SUBSET_ANALYZER_CASE = 'virtualServiceDestinationRules';

maybe('conformance with the reference data', () => {
  const corpus = join(REFERENCE, 'istio-analyze');
  const cases: Case[] = present ? JSON.parse(readFileSync(join(corpus, 'cases.json'), 'utf8')).cases : [];

  test('the Istio analyzer corpus: every case agrees with istioctl analyze (the codes each case checks)', () => {
    expect(cases.length).toBe(49);
    // An expectation without a namespace matches a finding in any namespace (as the corpus's check.mjs).
    const matches = (e: Expected, f: Finding) =>
      e.istioCode === f.istioCode && e.kind === f.kind && e.name === f.name && (!e.namespace || e.namespace === f.namespace);
    const disagreements = cases.flatMap((c) => {
      const relevant = mastValidate(c.files.map((f) => join(corpus, 'testdata', f))).filter(
        (f) => f.istioCode && c.checks.includes(f.istioCode) && (f.code !== SUBSET_NOT_FOUND || c.name === SUBSET_ANALYZER_CASE),
      );
      const missing = c.expected
        .filter((e) => !relevant.some((f) => matches(e, f)))
        .map((e) => `${c.name}: missing ${e.istioCode} ${e.kind} ${e.name}`);
      const extra = relevant
        .filter((f) => !c.expected.some((e) => matches(e, f)))
        .map((f) => `${c.name}: extra ${f.istioCode} ${f.kind} ${f.name}`);
      return [...missing, ...extra];
    });
    expect(disagreements).toEqual([]);
  });

  test('every Bookinfo traffic rule validates without errors, with the workloads, gateway and subsets it refers to', () => {
    const dir = join(REFERENCE, 'bookinfo-networking');
    const base = { workloads: 'bookinfo-workloads.k8s.yaml', gateway: 'bookinfo-gateway.yaml', subsets: 'destination-rule-all.yaml' };
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== base.workloads);
    expect(files.length).toBe(21);
    const errors = files.flatMap((file) => {
      const kinds = new Set([...readFileSync(join(dir, file), 'utf8').matchAll(/^kind:\s*(\S+)/gm)].map((m) => m[1]));
      const inputs = [base.workloads, file];
      if (!kinds.has('Gateway')) inputs.push(base.gateway);
      if (!kinds.has('DestinationRule')) inputs.push(base.subsets);
      const objects = loadFiles(inputs.map((f) => join(dir, f)));
      // certmanager-gateway.yaml routes ACME challenges to the Service cert-manager makes for its HTTP-01 solver.
      const solver = {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'cert-manager-resolver', namespace: 'istio-system' },
        spec: { ports: [{ name: 'http', port: 8089 }] },
      };
      const all = file === 'certmanager-gateway.yaml' ? [...objects.objects, solver as (typeof objects.objects)[number]] : objects.objects;
      return [...objects.findings, ...validate(all, { defaultIngressGateway: true })]
        .filter((f) => f.severity === 'Error')
        .map((f) => `${file}: ${f.code} ${f.kind} ${f.name} ${f.path}: ${f.message}`);
    });
    expect(errors).toEqual([]);
  });

  test('every Bookinfo file converts into typed constructs', () => {
    const dir = join(REFERENCE, 'bookinfo-networking');
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
      const { objects, findings } = loadFiles([join(dir, file)]);
      expect(findings).toEqual([]);
      const mesh = new Mesh(testApp(), 'mesh');
      mesh.addObjects(objects);
      const meshKinds = objects.filter((o) => o.apiVersion.includes('istio.io'));
      expect(mesh.apps.node.children.filter(MeshResource.isMeshResource)).toHaveLength(meshKinds.length);
    }
  });
});
