/**
 * The bookinfo-style example: productpage calls details and reviews; reviews v2
 * and v3 call ratings, over gRPC (ratings serves `bookinfo.Ratings` on a second
 * port, named `grpc`, beside its HTTP port). Workloads are declared here; routing
 * lives in `mesh/*.yaml` (the same files `mast validate` and `mast local` read).
 */
import { join } from 'node:path';
import { ApiObject, JsonPatch } from 'cdk8s';
import { MAST_VERSION, type Mesh, type MeshWorkload } from '../../constructs';

export const BOOKINFO_MESH_DIR = join(__dirname, 'mesh');
export const BOOKINFO_HOST = 'alpha.example.com';
/** ratings' gRPC port: a Service port named `grpc`, so the mesh carries it as HTTP/2. */
export const RATINGS_GRPC_PORT = 9090;

export interface BookinfoOptions {
  /** Image of the example apps. @default 'mast/bookinfo:<package version>' */
  readonly image?: string;
}

export function addBookinfo(mesh: Mesh, options: BookinfoOptions = {}): void {
  const image = options.image ?? `mast/bookinfo:${MAST_VERSION}`;
  const app = (service: string, versions: string[], env: Record<string, string> = {}, byVersion = (_v: string) => ({})) =>
    mesh.addWorkload(service, {
      image,
      port: 9080,
      readinessPath: '/health',
      env: { SERVICE: service, PORT: '9080', ...env },
      versions: versions.map((version) => ({ version, env: { VERSION: version, ...byVersion(version) } })),
    });
  app('productpage', ['v1'], { CALLS: 'http://details:9080,http://reviews:9080' });
  app('details', ['v1']);
  // reviews v2/v3 call ratings over gRPC through their sidecar, by the Service's name and grpc port.
  const ratingsGrpc = `grpc://ratings.${mesh.apps.namespace ?? 'default'}.svc.cluster.local:${RATINGS_GRPC_PORT}`;
  app('reviews', ['v1', 'v2', 'v3'], {}, (version) => (version === 'v1' ? {} : { CALLS: ratingsGrpc }));
  withGrpcPort(app('ratings', ['v1'], { GRPC_PORT: String(RATINGS_GRPC_PORT) }), RATINGS_GRPC_PORT);
  mesh.addYaml(BOOKINFO_MESH_DIR);
}

/**
 * A second port on a workload's Service (named `grpc`, appProtocol grpc, as Istio reads a port's
 * protocol) and on the app container of each of its Deployments; MeshWorkload declares one port.
 */
function withGrpcPort(workload: MeshWorkload, port: number): void {
  for (const child of workload.node.children) {
    if (!(child instanceof ApiObject)) continue;
    if (child.kind === 'Service')
      child.addJsonPatch(JsonPatch.add('/spec/ports/-', { name: 'grpc', port, targetPort: port, protocol: 'TCP', appProtocol: 'grpc' }));
    if (child.kind === 'Deployment')
      child.addJsonPatch(JsonPatch.add('/spec/template/spec/containers/0/ports/-', { name: 'grpc', containerPort: port, protocol: 'TCP' }));
  }
}
