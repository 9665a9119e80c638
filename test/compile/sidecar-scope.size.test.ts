/**
 * Why the Sidecar resource exists: on a mesh of 200 services in 20 namespaces, a sidecar's config
 * holds every service its namespace sees; under the mesh default Istio documents (`./*` and
 * `istio-system/*`) only its namespace's (10 services) and istio-system's. Pushed bytes and
 * compile work shrink with it.
 */
import { buildIndex, CompileCache, configFor, makeSnapshot } from '../../runtime/compile';
import { meshOf, sidecar } from './simulation';

const NAMESPACES = 20;
const PER_NAMESPACE = 10;

function mesh(withDefault: boolean): string {
  const docs: string[] = [];
  for (let n = 0; n < NAMESPACES; n++)
    for (let s = 0; s < PER_NAMESPACE; s++)
      docs.push(`apiVersion: v1
kind: Service
metadata: { name: svc-${s}, namespace: ns-${n} }
spec: { selector: { app: svc-${s} }, ports: [{ name: http, port: 8080 }, { name: grpc, port: 9090 }] }`);
  if (withDefault)
    docs.push(`apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: istio-system }
spec: { egress: [{ hosts: ["./*", "istio-system/*"] }] }`);
  return docs.join('\n---\n');
}

/** The config of a sidecar in ns-0, its JSON size and its outbound virtual hosts. */
function measure(withDefault: boolean) {
  const cache = new CompileCache(buildIndex(makeSnapshot(meshOf(mesh(withDefault)), 'v1')));
  const config = configFor(cache, sidecar('ns-0', { app: 'svc-0' }));
  const virtualHosts = config.listeners.reduce((n, l) => n + (l.virtualHosts?.length ?? 0), 0);
  return { bytes: Buffer.byteLength(JSON.stringify(config)), virtualHosts, clusters: config.clusters.length };
}

test('200 services: the mesh default Sidecar cuts a config to its namespace (20 of 400 service ports)', () => {
  const all = measure(false);
  const scoped = measure(true);
  expect([all.virtualHosts, all.clusters]).toEqual([400, 400]);
  expect([scoped.virtualHosts, scoped.clusters]).toEqual([20, 20]);
  // Bytes shrink with the services (a fixed part for the proxy's own settings remains).
  expect(scoped.bytes * 15).toBeLessThan(all.bytes);
  process.stdout.write(
    `config of one sidecar, 200 services × 2 ports: ${all.bytes} bytes without a Sidecar, ${scoped.bytes} with the mesh default (${(all.bytes / scoped.bytes).toFixed(1)}×)\n`,
  );
});
