/** The push port over TLS: mastd's certificate from its CA, verified by each proxy with the root it was given. */
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CertificateAuthority } from '../../../runtime/control/ca';
import { FileSource } from '../../../runtime/control/file-source';
import { Mastd } from '../../../runtime/control/mastd';
import { pushNames } from '../../../runtime/control/push-names';
import { PushClient } from '../../../runtime/proxy/push-client';
import { MeshProxy } from '../../../runtime/proxy/mesh-proxy';
import { renewalDelayMs } from '../../../runtime/contract/renewal';
import { localMesh } from '../../fixtures/local-mesh';
import { tempDir } from '../../support/temp-dir';
import { until } from '../../support/proxy';

describe('the push port over TLS', () => {
  let mastd: Mastd;
  let ca: CertificateAuthority;
  let port: number;
  const clients: Array<{ client: PushClient; proxy: MeshProxy }> = [];

  beforeAll(async () => {
    const dir = tempDir('mast-push-tls-');
    writeFileSync(
      join(dir, 'mesh.yaml'),
      localMesh({ reviewsV1: 1, reviewsV2: 2, details: 3 })
        .map((o) => stringify(o))
        .join('---\n'),
    );
    mastd = new Mastd({
      source: new FileSource([dir], 50),
      token: 'push-tls-test',
      defaultIngressGateway: true,
      pushTls: pushNames('mast-system'),
    });
    ca = await CertificateAuthority.generate('cluster.local');
    await mastd.useCa(ca);
    ({ pushPort: port } = await mastd.start(0, 0));
  });

  afterAll(async () => {
    for (const { client, proxy } of clients) client.stop(), await proxy.drain(50);
    await mastd.stop();
  });

  function connect(id: string, tls?: { root: () => string; servername?: string }) {
    const logs: string[] = [];
    // Gateways on any free port: several can run side by side.
    const proxy = new MeshProxy({ mode: 'gateway', workload: 'gw', namespace: 'mast-system' });
    const client = new PushClient(proxy, {
      address: `127.0.0.1:${port}`,
      id,
      identity: { mode: 'gateway', namespace: 'mast-system', labels: { istio: 'ingressgateway' }, portMap: { 80: 0 } },
      token: 'push-tls-test',
      log: (l) => logs.push(l),
      ...(tls ? { tls } : {}),
    });
    clients.push({ client, proxy });
    client.start();
    return { client, proxy, logs };
  }

  test("a proxy with mastd's root gets its config, by address or by the Service name it verifies", async () => {
    const byAddress = connect('by-address', { root: () => ca.rootPem });
    const byName = connect('by-name', { root: () => ca.rootPem, servername: 'mastd.mast-system.svc' });
    await until('both configs', () => byAddress.proxy.config !== undefined && byName.proxy.config !== undefined, 8000);
    expect(byName.logs).toContain(`connected to the control plane at 127.0.0.1:${port}`);
  });

  test('another root, a name the certificate does not carry, or plain text: no config, and the proxy says why', async () => {
    const other = await CertificateAuthority.generate('cluster.local');
    const wrongRoot = connect('wrong-root', { root: () => other.rootPem });
    const wrongName = connect('wrong-name', { root: () => ca.rootPem, servername: 'mastd.elsewhere.svc' });
    const plain = connect('plain');
    const noRoot = connect('no-root', {
      root: () => {
        throw new Error('ENOENT: /var/run/mast/root-cert.pem');
      },
    });
    await until('each tried twice', () => [wrongRoot, wrongName, plain, noRoot].every((c) => c.logs.length >= 2), 8000);
    for (const c of [wrongRoot, wrongName, plain, noRoot]) expect(c.proxy.config).toBeUndefined();
    expect(wrongRoot.logs[0]).toMatch(
      /^control plane stream closed \((CERT_SIGNATURE_FAILURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)\); keeping config none, reconnecting in \d+ ms$/,
    );
    expect(wrongName.logs[0]).toMatch(/^control plane stream closed \(ERR_TLS_CERT_ALTNAME_INVALID\)/);
    expect(plain.logs[0]).toMatch(
      /^control plane stream closed \(no answer: is mastd serving TLS\? then give --control-plane-ca\); keeping config none/,
    );
    expect(noRoot.logs[0]).toMatch(
      /^cannot read the control plane's root certificate: ENOENT: \/var\/run\/mast\/root-cert\.pem; keeping config none/,
    );
    expect(mastd.push.statuses().filter((s) => ['wrong-root', 'wrong-name', 'plain', 'no-root'].includes(s.id))).toEqual([]);
  });

  test("the push port's certificate: its names, server use, from the CA", async () => {
    const served = await ca.serving(['mastd.mast-system.svc'], ['127.0.0.1'], 3_600_000);
    const cert = new X509Certificate(served.certificate);
    expect(cert.subjectAltName).toBe('DNS:mastd.mast-system.svc, IP Address:127.0.0.1');
    expect(cert.checkIssued(new X509Certificate(ca.rootPem))).toBe(true);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
  });
});

describe('push names and renewal', () => {
  test("the certificate names mastd's Service in its namespace, loopback, and what --push-names adds", () => {
    expect(pushNames('mesh', 'mastd.example.org, 10.0.0.5')).toEqual({
      names: ['mastd', 'mastd.mesh', 'mastd.mesh.svc', 'mastd.mesh.svc.cluster.local', 'localhost', 'mastd.example.org'],
      addresses: ['127.0.0.1', '::1', '10.0.0.5'],
    });
    expect(() => pushNames('mesh', 'bad name')).toThrow('--push-names: "bad name" is not a DNS name or an IP address');
  });

  test('renewal at half the remaining life, never sooner than 1 s, never past what a Node timer holds', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(renewalDelayMs('2026-01-01T02:00:00Z', now)).toBe(3_600_000);
    expect(renewalDelayMs('2025-12-31T00:00:00Z', now)).toBe(1000);
    expect(renewalDelayMs('2027-01-01T00:00:00Z', now)).toBe(2 ** 31 - 1);
    expect(renewalDelayMs('not a date', now)).toBe(1000);
  });
});
