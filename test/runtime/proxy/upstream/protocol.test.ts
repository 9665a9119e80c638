import { Cluster } from '../../../../runtime/proxy/upstream/cluster';
import type { ClusterConfig } from '../../../../runtime/contract/proxy-config';

const cluster = (extra: Partial<ClusterConfig>) =>
  new Cluster({
    name: 'inbound|passthrough||',
    host: '',
    port: 0,
    endpoints: [],
    lb: { kind: 'passthrough' },
    connectTimeoutMs: 1000,
    ...extra,
  });

describe('how a request goes upstream (Cluster.protocolFor)', () => {
  test("a pod's passthrough inbound cluster: by the port the client dialled, HTTP/1.1 for a port not listed", () => {
    const c = cluster({ upstreamProtocolByPort: { 9090: 'h2', 82: 'client' } });
    expect([c.protocolFor(9090), c.protocolFor(82), c.protocolFor(8080), c.protocolFor(undefined)]).toEqual([
      'h2',
      'client',
      undefined,
      undefined,
    ]);
  });

  test('any other cluster: its own upstreamProtocol, whatever the port', () => {
    expect(cluster({ upstreamProtocol: 'h2' }).protocolFor(8080)).toBe('h2');
    expect(cluster({ upstreamProtocol: 'h2', upstreamProtocolByPort: { 8080: 'client' } }).protocolFor(8080)).toBe('client');
    expect(cluster({}).protocolFor(8080)).toBeUndefined();
  });
});
