/**
 * A credential reload and a push at the same time (mast local re-reads Secrets every second): the
 * applies run one at a time and the reload re-applies the config current when its turn comes, so
 * neither binds a port twice nor puts an older config back.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CertificateAuthority } from '../../../runtime/control/ca';
import { PROXY_CONFIG_SCHEMA, type ListenerConfig, type ProxyConfig } from '../../../runtime/contract/proxy-config';
import { certificateRequest, generateKeys, privateKeyPem } from '../../../runtime/contract/x509';
import { freePort } from '../../../runtime/local/local-mesh';
import { MeshProxy } from '../../../runtime/proxy/mesh-proxy';
import { tempDir } from '../../support/temp-dir';

/** Fixed ports, as a gateway has: two applies binding the same new one at once would collide. */
const ports = new Map<number, number>();
const listener = (name: string, matchPort: number, extra: Partial<ListenerConfig> = {}): ListenerConfig => ({
  name,
  port: ports.get(matchPort)!,
  matchPort,
  protocol: 'http',
  virtualHosts: [],
  ...extra,
});
const config = (version: string, listeners: ListenerConfig[]): ProxyConfig => ({
  schema: PROXY_CONFIG_SCHEMA,
  version,
  listeners,
  clusters: [],
});

test('a Secret appearing while a push with a new port is applied: both ports served, the pushed config kept', async () => {
  for (const p of [80, 443, 8080]) ports.set(p, await freePort());
  const dir = tempDir('mast-reload-race-');
  const ca = await CertificateAuthority.generate('cluster.local');
  const keys = await generateKeys();
  const issued = await ca.sign(await certificateRequest(keys), { namespace: 'mast-system', serviceAccount: 'gw' });
  const secure = () =>
    listener('0.0.0.0_443', 443, {
      tlsServers: [{ name: 'https.443.https.edge.default', serverNames: [], tls: { credentialName: 'late' }, virtualHosts: [] }],
    });
  const proxy = new MeshProxy({ mode: 'gateway', workload: 'gw', namespace: 'mast-system' });
  proxy.credentialsDir = dir;
  try {
    expect(await proxy.apply(config('v1', [listener('0.0.0.0_80', 80), secure()]))).toMatchObject({ ok: true });
    expect(proxy.boundPort('0.0.0.0_443')).toBeUndefined();
    mkdirSync(join(dir, 'late'));
    writeFileSync(join(dir, 'late', 'tls.crt'), issued.certificate);
    writeFileSync(join(dir, 'late', 'tls.key'), await privateKeyPem(keys));
    // The reload (which finds the Secret) and a push adding port 8080, started together.
    const [reloaded, pushed] = await Promise.all([
      proxy.reloadCredentials(),
      proxy.apply(config('v2', [listener('0.0.0.0_80', 80), secure(), listener('0.0.0.0_8080', 8080)])),
    ]);
    expect(pushed).toMatchObject({ ok: true, version: 'v2' });
    expect(reloaded).toBe(true);
    expect(proxy.config?.version).toBe('v2');
    expect(proxy.boundPort('0.0.0.0_443')).toBe(ports.get(443));
    expect(proxy.boundPort('0.0.0.0_8080')).toBe(ports.get(8080));
    expect(proxy.skipped).toEqual([]);
  } finally {
    await proxy.drain(50);
  }
});
