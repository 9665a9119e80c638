// Validates Kubernetes objects against upstream schemas: Istio's (from @kubernetes-models/istio,
// Istio 1.29) for the mesh kinds, Kubernetes' (kubernetes-models) for the rest. These packages are
// ESM-only, so the tests run this as a child process: `node upstream-schema.mjs <objects.json>`.
// Prints one JSON line: { checked, errors: [{ kind, name, message }] }.
import { readFileSync } from 'node:fs';

const objects = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const errors = [];
let checked = 0;
for (const obj of objects) {
  const [group, version] = obj.apiVersion.includes('/') ? obj.apiVersion.split('/') : ['', obj.apiVersion];
  const module = group.endsWith('istio.io')
    ? `@kubernetes-models/istio/${group}/${version}/${obj.kind}`
    : `kubernetes-models/${group ? `${group}/` : ''}${version}/${obj.kind}`;
  let Model;
  try {
    Model = (await import(module))[obj.kind];
  } catch (err) {
    errors.push({ kind: obj.kind, name: obj.metadata?.name, message: `no upstream model ${module}: ${err.message}` });
    continue;
  }
  try {
    new Model(obj).validate();
    checked++;
  } catch (err) {
    errors.push({ kind: obj.kind, name: obj.metadata?.name, message: err.message });
  }
}
console.log(JSON.stringify({ checked, errors }));
