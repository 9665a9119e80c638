/**
 * A real sidecar (MeshProxy) for tests that run two or more over mTLS: its certificate from the
 * test's mesh CA, its config compiled from a mesh index as mastd compiles it. `apply` pushes the
 * config of another index (a changed mesh) to the same proxy.
 */
import { compile, type MeshIndex, type ProxyIdentity } from '../../runtime/compile';
import type { CertificateAuthority } from '../../runtime/control/ca';
import { MeshProxy } from '../../runtime/proxy/mesh-proxy';
import { workload } from '../security/pki';

export interface TestSidecar {
  readonly proxy: MeshProxy;
  apply(index: MeshIndex): Promise<void>;
}

/** Started and configured; the caller drains it (`proxy.drain(50)`). `workloadName` defaults to the `app` label. */
export async function meshSidecar(
  ca: CertificateAuthority,
  index: MeshIndex,
  identity: ProxyIdentity & { readonly serviceAccount: string },
  workloadName = identity.labels.app,
): Promise<TestSidecar> {
  const proxy = new MeshProxy({
    mode: 'sidecar',
    workload: workloadName,
    namespace: identity.namespace,
    labels: identity.labels,
    serviceAccount: identity.serviceAccount,
  });
  proxy.setCertificate(await workload(ca, identity.namespace, identity.serviceAccount));
  const apply = async (next: MeshIndex) => {
    const result = await proxy.apply(compile(next, identity));
    if (!result.ok) throw new Error(result.error);
  };
  try {
    await apply(index);
  } catch (e) {
    await proxy.drain(0);
    throw e;
  }
  return { proxy, apply };
}
