import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/temp-dir';

const ROOT = join(__dirname, '..', '..');
const mast = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin', 'mast'), ...args], { cwd: ROOT, encoding: 'utf8' });
const tmp = () => tempDir('mast-cli-');

const BROKEN_VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: default
spec:
  hosts: [reviews]
  http:
    - route:
        - destination: { host: reviews, subset: v1 }
          weight: 0
        - destination: { host: reviews, subset: v2 }
          weight: 0
`;

describe('mast CLI', () => {
  test('--help lists the commands', () => {
    const r = mast('--help');
    expect(r.status).toBe(0);
    for (const cmd of ['validate', 'synth', 'version']) expect(r.stdout).toMatch(new RegExp(`^  ${cmd}\\b`, 'm'));
  });

  test('an unknown command exits 2 with the help', () => {
    const r = mast('frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown command "frobnicate"/);
  });

  test('validate: the example mesh with its synthesized workloads is clean', () => {
    const out = tmp();
    expect(
      spawnSync(process.execPath, [require.resolve('ts-node/dist/bin.js'), '--swc', join(ROOT, 'bin', 'kind.ts'), out], {
        cwd: ROOT,
        encoding: 'utf8',
      }).status,
    ).toBe(0);
    const r = mast('validate', '-f', out);
    expect(r.stdout).not.toMatch(/^Error/m);
    expect(r.status).toBe(0);
  });

  test('validate: a broken VirtualService exits 1 naming code, resource, field, value, file and line', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'vs.yaml'), BROKEN_VS);
    const r = mast('validate', '-f', join(dir, 'vs.yaml'));
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(
      /Error MAST0101 VirtualService default\/reviews spec\.http\[0\]\.route: all 2 destination weights are 0\b.*vs\.yaml:9\)/,
    );
  });

  test('validate --output json gives the findings with code, istioCode, severity, kind, namespace, name, path, message', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'vs.yaml'), BROKEN_VS);
    writeFileSync(
      join(dir, 'svc.yaml'),
      'apiVersion: v1\nkind: Service\nmetadata: {name: details, namespace: default}\nspec: {ports: [{port: 9080}]}\n',
    );
    const r = mast('validate', '-f', dir, '--output', 'json');
    const { findings } = JSON.parse(r.stdout);
    const host = findings.find((f: any) => f.code === 'MAST0202');
    expect(host).toMatchObject({
      istioCode: 'IST0101',
      severity: 'Error',
      kind: 'VirtualService',
      namespace: 'default',
      name: 'reviews',
      path: 'spec.http[0].route[0].destination.host',
    });
  });

  test('validate: missing input and bad options exit 2 with a clear message', () => {
    expect(mast('validate', '-f', '/nonexistent/mesh.yaml')).toMatchObject({
      status: 2,
      stderr: expect.stringMatching(/no such file or directory: \/nonexistent\/mesh.yaml/),
    });
    expect(mast('validate')).toMatchObject({ status: 2, stderr: expect.stringMatching(/at least one -f/) });
    expect(mast('validate', '-f', 'x', '--output', 'xml')).toMatchObject({
      status: 2,
      stderr: expect.stringMatching(/--output must be text or json/),
    });
  });

  test('synth writes CRDs, control plane, gateway and the resources; a broken mesh writes nothing', () => {
    const out = tmp();
    const broken = tmp();
    writeFileSync(join(broken, 'vs.yaml'), BROKEN_VS);
    const r = mast('synth', '-f', broken, '--out', out);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/Error MAST0101 VirtualService default\/reviews spec\.http\[0\]\.route: .*vs\.yaml:9\)/);
    expect(readdirSync(out)).toEqual([]);

    const dir = tmp();
    writeFileSync(
      join(dir, 'svc.yaml'),
      'apiVersion: v1\nkind: Service\nmetadata: {name: reviews, namespace: default}\nspec: {selector: {app: reviews}, ports: [{port: 9080}]}\n',
    );
    writeFileSync(
      join(dir, 'vs.yaml'),
      'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews, namespace: default}\nspec:\n  hosts: [reviews]\n  http: [{route: [{destination: {host: reviews}}]}]\n',
    );
    const ok = mast('synth', '-f', dir, '--out', out, '--gateway-service', 'ClusterIP');
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    const files = readdirSync(out);
    expect(files).toEqual(['0000-mast-0-crds.k8s.yaml', '0001-mast-1-system.k8s.yaml', '0002-mast-2-apps.k8s.yaml']);
    expect(readFileSync(join(out, files[1]), 'utf8')).toMatch(/type: ClusterIP/);
    expect(readFileSync(join(out, files[2]), 'utf8')).toMatch(/kind: VirtualService/);
    expect(readFileSync(join(out, files[1]), 'utf8')).not.toMatch(/grafana_dashboard/);

    // --dashboards: mast's Grafana dashboards go with the control plane, labelled for Grafana's sidecar.
    const withDashboards = tmp();
    expect(mast('synth', '-f', dir, '--out', withDashboards, '--dashboards').status).toBe(0);
    const system = readFileSync(join(withDashboards, files[1]), 'utf8');
    expect(system.match(/grafana_dashboard: "1"/g)).toHaveLength(4);
    expect(system).toMatch(/mast-control-plane\.json/);
  });
});
