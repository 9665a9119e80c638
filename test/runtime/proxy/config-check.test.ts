/** What a proxy refuses to apply (its NACK reason), where applying would fail open. */
import { checkConfig } from '../../../runtime/proxy/config-check';
import type { ListenerConfig, ProxyConfig } from '../../../runtime/contract/proxy-config';

const config = (listener: Partial<ListenerConfig>): ProxyConfig => ({
  schema: 1,
  version: 'v1',
  listeners: [{ name: 'virtualInbound', port: 0, matchPort: 8080, protocol: 'http', virtualHosts: [], ...listener }],
  clusters: [],
});

describe('checkConfig', () => {
  test("PeerAuthentication's mode on a listener that is not a sidecar's inbound is refused, not ignored (STRICT would serve plain text)", () => {
    expect(checkConfig(config({ mtls: 'STRICT' }))).toMatch(/mtls is for a sidecar's inbound listener/);
    expect(checkConfig(config({ mtlsByPort: { '9090': 'STRICT' }, trafficDirection: 'OUTBOUND' }))).toMatch(/trafficDirection INBOUND/);
    expect(checkConfig(config({ mtls: 'STRICT', trafficDirection: 'INBOUND' }))).toBeUndefined();
  });
});
