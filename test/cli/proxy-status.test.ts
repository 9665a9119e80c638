import { syncState } from '../../cli/proxy-status';

const p = (sent?: string, acked?: string, nacked?: string) => ({
  id: 'x',
  identity: { mode: 'gateway', namespace: 'n' },
  sent,
  acked,
  nacked: nacked ? { version: nacked, error: 'e' } : undefined,
});

describe('proxy-status sync state', () => {
  test('SYNCED: ACKed the version mastd serves', () => expect(syncState(p('v3', 'v3'), 'v3')).toBe('SYNCED'));
  test('STALE: sent but not ACKed yet, or behind the snapshot', () => {
    expect(syncState(p('v3', 'v2'), 'v3')).toBe('STALE');
    expect(syncState(p('v2', 'v2'), 'v3')).toBe('STALE');
    expect(syncState(p(), 'v1')).toBe('STALE');
  });
  test('NACK: the version sent was rejected', () => expect(syncState(p('v3', 'v2', 'v3'), 'v3')).toBe('NACK'));
});
