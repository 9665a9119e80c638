// `npm run conformance`: mast validate against the reference data in ../shared/reference (kept
// outside the project): Istio's analyzer corpus must agree case by case, and every Bookinfo traffic
// rule must validate without errors together with the workloads, gateway and subsets it refers to.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const reference = join(process.cwd(), '..', 'shared', 'reference');
if (!existsSync(reference)) {
  console.log(`conformance skipped: ${reference} not found`);
  process.exit(0);
}

const istio = spawnSync(process.execPath, [join(reference, 'istio-analyze', 'check.mjs')], { stdio: 'inherit' });

const dir = join(reference, 'bookinfo-networking');
const base = { workloads: 'bookinfo-workloads.k8s.yaml', gateway: 'bookinfo-gateway.yaml', subsets: 'destination-rule-all.yaml' };
const kindsIn = (file) => new Set([...readFileSync(join(dir, file), 'utf8').matchAll(/^kind:\s*(\S+)/gm)].map((m) => m[1]));
// certmanager-gateway.yaml routes ACME challenges to the Service cert-manager creates for its HTTP-01
// solver; it is not part of Bookinfo, so it is declared here as that file's environment.
const scratch = mkdtempSync(join(tmpdir(), 'mast-conformance-'));
const solver = join(scratch, 'cert-manager-solver.yaml');
writeFileSync(
  solver,
  'apiVersion: v1\nkind: Service\nmetadata: {name: cert-manager-resolver, namespace: istio-system}\nspec: {ports: [{name: http, port: 8089}]}\n',
);
const environment = { 'certmanager-gateway.yaml': [solver] };
let failed = 0;
const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== base.workloads);
for (const file of files) {
  const kinds = kindsIn(file);
  const inputs = [base.workloads, file];
  if (!kinds.has('Gateway')) inputs.push(base.gateway);
  if (!kinds.has('DestinationRule')) inputs.push(base.subsets);
  const extra = environment[file] ?? [];
  let out;
  try {
    out = execFileSync(
      process.execPath,
      ['bin/mast', 'validate', ...inputs.flatMap((f) => ['-f', join(dir, f)]), ...extra.flatMap((f) => ['-f', f]), '--output', 'json'],
      { encoding: 'utf8' },
    );
  } catch (err) {
    out = err.stdout;
  }
  const errors = JSON.parse(out).findings.filter((f) => f.severity === 'Error');
  if (errors.length) failed++;
  console.log(`${errors.length ? 'FAIL' : 'ok  '} bookinfo ${file} (with ${inputs.slice(2).join(', ') || 'workloads only'})`);
  for (const e of errors) console.log(`     ${e.code} ${e.kind} ${e.name} ${e.path}: ${e.message}`);
}
console.log(`bookinfo traffic rules: ${files.length - failed}/${files.length} validate without errors`);
rmSync(scratch, { recursive: true, force: true });
process.exit(istio.status === 0 && failed === 0 ? 0 : 1);
