/**
 * The bookinfo-style example: productpage calls details and reviews; reviews v2
 * and v3 call ratings. Workloads are declared here; routing lives in `mesh/*.yaml`
 * (the same files `mast validate` and `mast local` read).
 */
import { join } from 'node:path';
import { MAST_VERSION, type Mesh } from '../../constructs';

export const BOOKINFO_MESH_DIR = join(__dirname, 'mesh');
export const BOOKINFO_HOST = 'alpha.example.com';

export interface BookinfoOptions {
  /** Image of the example apps. @default 'mast/bookinfo:<package version>' */
  readonly image?: string;
}

export function addBookinfo(mesh: Mesh, options: BookinfoOptions = {}): void {
  const image = options.image ?? `mast/bookinfo:${MAST_VERSION}`;
  const app = (service: string, versions: string[], calls: string[] = []) =>
    mesh.addWorkload(service, {
      image,
      port: 9080,
      readinessPath: '/health',
      env: { SERVICE: service, PORT: '9080', ...(calls.length ? { CALLS: calls.map((c) => `http://${c}:9080`).join(',') } : {}) },
      versions: versions.map((version) => ({
        version,
        env: { VERSION: version, ...(service === 'reviews' && version !== 'v1' ? { CALLS: 'http://ratings:9080' } : {}) },
      })),
    });
  app('productpage', ['v1'], ['details', 'reviews']);
  app('details', ['v1']);
  app('reviews', ['v1', 'v2', 'v3']);
  app('ratings', ['v1']);
  mesh.addYaml(BOOKINFO_MESH_DIR);
}
