// What a new mTLS connection between two sidecars costs, with a full handshake and resuming the
// last session (issue #26): CPU of this process (client and server both run here) per connection,
// through the cluster's own connect and serveTls, certificates from a mesh CA as mastd issues them.
// Usage: npx esbuild bench/handshake.ts --bundle --platform=node --outfile=/tmp/handshake.js && node /tmp/handshake.js [connections]
import * as net from 'node:net';
import type * as tls from 'node:tls';
import { CertificateAuthority } from '../runtime/control/ca';
import { certificateRequest, generateKeys, privateKeyPem } from '../runtime/contract/x509';
import { serveTls, workloadContext } from '../runtime/proxy/peer-tls';
import { Cluster } from '../runtime/proxy/upstream/cluster';

async function issue(ca: CertificateAuthority, serviceAccount: string): Promise<tls.SecureContext> {
  const keys = await generateKeys();
  const issued = await ca.sign(await certificateRequest(keys), { namespace: 'default', serviceAccount });
  return workloadContext(await privateKeyPem(keys), issued.certificate, issued.root);
}

/** CPU µs per connection over `n` connections made one after another, each closed once its first byte arrived. */
async function perConnection(c: Cluster, n: number, resume: boolean): Promise<{ us: number; reused: number }> {
  const e = c.endpoints[0];
  let reused = 0;
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    e.refusesResumption = !resume;
    await new Promise<void>((done) => {
      const s = c.connect(e) as tls.TLSSocket;
      s.once('data', () => {
        if (s.isSessionReused()) reused++;
        // The session tickets come with the first byte: let them land before the next connection.
        setImmediate(() => (s.destroy(), done()));
      });
      s.once('error', () => done());
    });
  }
  const u = process.cpuUsage(t0);
  return { us: (u.user + u.system) / n, reused };
}

async function main() {
  const n = Number(process.argv[2] ?? 300);
  const ca = await CertificateAuthority.generate('cluster.local');
  const server = await issue(ca, 'backend');
  const client = await issue(ca, 'client');
  const inbound = net.createServer((raw) =>
    serveTls(raw, { context: server, verifyClient: true, handshakeTimeoutMs: 5000 }, (secure) => {
      secure.on('error', () => undefined);
      secure.write('x');
    }),
  );
  await new Promise<void>((r) => inbound.listen(0, '127.0.0.1', r));
  const port = (inbound.address() as net.AddressInfo).port;
  const c = new Cluster(
    {
      name: 'b',
      host: 'b',
      port: 80,
      endpoints: [{ address: '127.0.0.1', port }],
      lb: { kind: 'round_robin' },
      connectTimeoutMs: 1000,
      tls: 'ISTIO_MUTUAL',
    },
    undefined,
    () => client,
  );
  await perConnection(c, 20, true); // warm-up: JIT, the first session
  const full = await perConnection(c, n, false);
  const resumed = await perConnection(c, n, true);
  console.log(
    `mTLS connection, both ends in one process, ${n} each: full handshake ${full.us.toFixed(0)} µs CPU, resumed ${resumed.us.toFixed(0)} µs (${resumed.reused}/${n} resumed); ratio ${(resumed.us / full.us).toFixed(2)}`,
  );
  inbound.close();
}

main();
