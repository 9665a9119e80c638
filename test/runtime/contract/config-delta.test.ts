import { applyDelta, diffConfig, DeltaError } from '../../../runtime/contract/config-delta';
import type { ClusterConfig, ProxyConfig, VirtualHostConfig } from '../../../runtime/contract/proxy-config';

const cluster = (name: string, port = 9080): ClusterConfig => ({
  name,
  host: name.split('|')[3],
  port,
  endpoints: [{ address: '10.0.0.1', port }],
  lb: { kind: 'least_request' },
  connectTimeoutMs: 1000,
});
const vhost = (host: string, cl: string, weight = 100): VirtualHostConfig => ({
  name: `${host}:9080`,
  domains: [host],
  routes: [{ name: 'r', matches: [], action: { kind: 'forward', destinations: [{ cluster: cl, weight }] } }],
});
const config = (version: string, hosts: VirtualHostConfig[], clusters: ClusterConfig[]): ProxyConfig => ({
  schema: 1,
  version,
  listeners: [
    { name: 'outbound_9080', port: 15001, matchPort: 9080, protocol: 'http', passthrough: true, virtualHosts: hosts },
    {
      name: 'outbound_5432_tcp',
      port: 15001,
      matchPort: 5432,
      protocol: 'tcp',
      tcpDestinations: [{ cluster: clusters[0].name, weight: 100 }],
    },
  ],
  clusters,
});

const a = 'outbound|9080||a.ns.svc.cluster.local';
const b = 'outbound|9080||b.ns.svc.cluster.local';
const c = 'outbound|9080||c.ns.svc.cluster.local';
const base = config('v1', [vhost('a', a), vhost('b', b)], [cluster(a), cluster(b)]);

describe('config deltas (incremental pushes)', () => {
  test('a delta carries only what changed, and applied to the base gives the new config', () => {
    const next = config('v2', [vhost('a', a), vhost('b', b, 50), vhost('c', c)], [cluster(a), cluster(c)]);
    const delta = diffConfig(base, next)!;
    expect(delta.base).toBe('v1');
    expect(delta.listeners[0]).toMatchObject({
      name: 'outbound_9080',
      virtualHosts: ['a:9080', next.listeners[0].virtualHosts![1], next.listeners[0].virtualHosts![2]],
    });
    expect(delta.listeners[1]).toBe('outbound_5432_tcp');
    expect(delta.clusters).toEqual({ set: [cluster(c)], remove: [b] });
    const applied = applyDelta(base, 'v2', JSON.parse(JSON.stringify(delta)));
    expect(applied).toEqual(next);
    // Unchanged parts are the base's own objects: the proxy keeps what it built from them.
    expect(applied.listeners[1]).toBe(base.listeners[1]);
    expect(applied.listeners[0].virtualHosts![0]).toBe(base.listeners[0].virtualHosts![0]);
    expect(applied.clusters[0]).toBe(base.clusters[0]);
  });

  test('nothing changed: every listener is named, no cluster travels', () => {
    const same = config('v2', [vhost('a', a), vhost('b', b)], [cluster(a), cluster(b)]);
    expect(diffConfig(base, same)).toEqual({
      base: 'v1',
      listeners: ['outbound_9080', 'outbound_5432_tcp'],
      clusters: { set: [], remove: [] },
    });
  });

  test('reordered virtual hosts are a change (order decides ties)', () => {
    const next = config('v2', [vhost('b', b), vhost('a', a)], [cluster(a), cluster(b)]);
    expect(applyDelta(base, 'v2', diffConfig(base, next)!)).toEqual(next);
    expect(diffConfig(base, next)!.listeners[0]).toMatchObject({ virtualHosts: ['b:9080', 'a:9080'] });
  });

  test('duplicate names cannot be diffed: the whole config is sent instead', () => {
    const dup = config('v2', [vhost('a', a), vhost('a', a)], [cluster(a)]);
    expect(diffConfig(base, dup)).toBeUndefined();
  });

  test('a delta for another base, or naming parts the base lacks, is refused', () => {
    const delta = diffConfig(base, config('v2', [vhost('a', a)], [cluster(a)]))!;
    expect(() => applyDelta({ ...base, version: 'v0' }, 'v2', delta)).toThrow(DeltaError);
    expect(() => applyDelta(undefined, 'v2', delta)).toThrow(/running config is null/);
    expect(() => applyDelta(base, 'v2', { ...delta, listeners: ['nope'] })).toThrow(/listener "nope"/);
    expect(() => applyDelta(base, 'v2', { ...delta, listeners: [{ ...base.listeners[0], virtualHosts: ['x:9080'] }] })).toThrow(
      /virtual host "x:9080"/,
    );
  });

  test('mesh-wide settings (pathNormalization) ride on every delta, and a change of one sends the full config', () => {
    const merging: ProxyConfig = { ...base, pathNormalization: 'MERGE_SLASHES' };
    const next: ProxyConfig = {
      ...config('v2', [vhost('a', a), vhost('b', b, 50)], [cluster(a), cluster(b)]),
      pathNormalization: 'MERGE_SLASHES',
    };
    expect(applyDelta(merging, 'v2', diffConfig(merging, next)!)).toEqual(next);
    expect(diffConfig(base, next)).toBeUndefined();
    expect(diffConfig(merging, { ...next, pathNormalization: undefined })).toBeUndefined();
  });
});
