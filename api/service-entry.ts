/** networking.istio.io/v1 ServiceEntry and WorkloadEntry: the mesh's registry beyond Kubernetes Services. */
import { arr, int, labels, map, obj, oneOf, req, str, strs, type Infer } from './schema';
import { exportTo, portProtocol } from './common';

export const workloadEntrySpec = obj({
  address: str('IP address or DNS name of the workload.'),
  ports: map(int(1, 65535), 'Port name to the port the workload listens on.'),
  labels: labels(),
  network: str(),
  locality: str(),
  weight: int(0),
  serviceAccount: str(),
});

export const servicePort = obj({
  number: req(int(1, 65535)),
  protocol: portProtocol,
  name: req(str()),
  targetPort: int(1, 65535),
});

export const serviceEntrySpec = obj({
  hosts: req(strs()),
  addresses: strs(),
  ports: arr(servicePort),
  location: oneOf(['MESH_EXTERNAL', 'MESH_INTERNAL'] as const),
  resolution: oneOf(['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN', 'DYNAMIC_DNS'] as const),
  endpoints: arr(workloadEntrySpec),
  workloadSelector: obj({ labels: labels() }),
  exportTo,
  subjectAltNames: strs(),
});

export type ServiceEntrySpec = Infer<typeof serviceEntrySpec>;
export type WorkloadEntrySpec = Infer<typeof workloadEntrySpec>;
