/**
 * httpbin of Istio's security tasks for `mast local`: its ServiceEntry (port 8000, as the task's
 * Service) and one WorkloadEntry running httpbin.ts on `port`, in `namespace`; and the tasks' sleep
 * client beside it (a WorkloadEntry with a sidecar and no app: the test sends its requests).
 */
import { join } from 'node:path';
import { freePort } from '../../../runtime/local/local-mesh';
import { meshYaml, serviceEntryDoc, workloadEntryDoc } from '../../support/mesh-yaml';

export function httpbinWorkload(namespace: string, port: number): string {
  return meshYaml(
    serviceEntryDoc({ name: 'httpbin', namespace, port: 8000 }),
    workloadEntryDoc({ app: 'httpbin', version: 'v1', name: 'httpbin', namespace, port, run: join(__dirname, 'httpbin.ts') }),
  );
}

/** httpbin and sleep in default, as the observability tasks deploy them, on free ports. */
export async function sleepAndHttpbin(): Promise<string> {
  return meshYaml(
    httpbinWorkload('default', await freePort()),
    `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: sleep, namespace: default }
spec: { address: 127.0.0.1, ports: { http: ${await freePort()} }, labels: { app: sleep } }`,
  );
}
