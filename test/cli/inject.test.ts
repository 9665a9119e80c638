import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { tempDir } from '../support/temp-dir';

const ROOT = join(__dirname, '..', '..');
const mast = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin', 'mast'), ...args], { cwd: ROOT, encoding: 'utf8' });

const WORKLOADS = `apiVersion: apps/v1
kind: Deployment
metadata: { name: cart, namespace: shop }
spec:
  selector: { matchLabels: { app: cart } }
  template:
    metadata: { labels: { app: cart } }
    spec: { containers: [{ name: cart, image: example/cart:1 }] }
---
apiVersion: batch/v1
kind: Job
metadata: { name: migrate, namespace: tools }
spec:
  template:
    metadata: { labels: { app: migrate } }
    spec: { restartPolicy: Never, containers: [{ name: migrate, image: example/migrate:1 }] }
`;

describe('mast inject (as istioctl kube-inject)', () => {
  test('adds the sidecar where the namespace asks for it, says which workload got none and why, keeps the rest as written', () => {
    const dir = tempDir('mast-inject-');
    const input = join(dir, 'workloads.yaml');
    writeFileSync(input, WORKLOADS);
    const out = join(dir, 'injected.yaml');
    const r = mast(
      'inject',
      '-f',
      input,
      '-o',
      out,
      '--proxy-image',
      'registry/proxy:1',
      '--namespace-label',
      'shop=istio-injection=enabled',
    );
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/Warning MAST0401 \[IST0103\] Job tools\/migrate spec\.template: not injected: neither its namespace/);
    expect(r.stderr).toMatch(/1 workload\(s\) injected, 1 left without a sidecar/);
    const [cart, job] = parseAllDocuments(readFileSync(out, 'utf8')).map((d) => d.toJS());
    const init = cart.spec.template.spec.initContainers.map((c: any) => `${c.name} ${c.image}`);
    expect(init).toEqual(['mast-init registry/proxy:1', 'mast-proxy registry/proxy:1']);
    expect(job.spec.template.spec.initContainers).toBeUndefined();
    expect(job.spec.template.spec.containers).toEqual([{ name: 'migrate', image: 'example/migrate:1' }]);
  });

  test('a malformed --namespace-label is a usage error', () => {
    const r = mast('inject', '-f', join(ROOT, 'examples', 'bookinfo', 'mesh'), '--namespace-label', 'shop');
    expect([r.status, r.stderr.trim()]).toEqual([2, 'mast inject: --namespace-label must be <namespace>=<label>=<value>, not "shop"']);
  });
});
