/**
 * httpbin of Istio's security tasks for `mast local`: its ServiceEntry (port 8000, as the task's
 * Service) and one WorkloadEntry running httpbin.ts on `port`, in `namespace`.
 */
import { join } from 'node:path';
import { meshYaml, serviceEntryDoc, workloadEntryDoc } from '../../support/mesh-yaml';

export function httpbinWorkload(namespace: string, port: number): string {
  return meshYaml(
    serviceEntryDoc({ name: 'httpbin', namespace, port: 8000 }),
    workloadEntryDoc({ app: 'httpbin', version: 'v1', name: 'httpbin', namespace, port, run: join(__dirname, 'httpbin.ts') }),
  );
}
