/** What mastd keeps of a Node (kube-source.ts): its name and topology labels; a status change leaves it equal. */
import { nodeTopology } from '../../../runtime/control/node-topology';

test('a Node is kept as its name and topology labels: status, other labels and resourceVersion are not (a heartbeat is no reason for a push)', () => {
  const node = (heartbeat: string, resourceVersion: string) => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: 'node-a',
      resourceVersion,
      labels: {
        'topology.kubernetes.io/region': 'us-east-1',
        'topology.kubernetes.io/zone': 'us-east-1a',
        'topology.istio.io/subzone': 'rack-7',
        'kubernetes.io/os': 'linux',
      },
    },
    status: { conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: heartbeat }] },
  });
  const kept = nodeTopology(node('2026-12-07T00:00:00Z', '1'));
  expect(kept).toEqual({
    metadata: {
      name: 'node-a',
      labels: {
        'topology.kubernetes.io/region': 'us-east-1',
        'topology.kubernetes.io/zone': 'us-east-1a',
        'topology.istio.io/subzone': 'rack-7',
      },
    },
  });
  expect(nodeTopology(node('2026-12-07T00:05:00Z', '2'))).toEqual(kept);
});
