/**
 * Istio's task traffic-management/egress/wildcard-egress-hosts ("Egress using Wildcard Hosts") with
 * captured traffic (`mast local --intercept`), on a mesh with `outboundTrafficPolicy: REGISTRY_ONLY`
 * as the task installs it. sleep is an app in productpage's network namespace speaking HTTPS
 * itself. en.wikipedia.org and de.wikipedia.org are servers of the test, each on its own address
 * (this machine's end of a namespace's link), on 443, resolved there as public DNS would
 * (LocalMesh.resolveOutside); www.wikipedia.org is a third, which serves every language, as the
 * real one does. The documented outcomes: with the ServiceEntry `*.wikipedia.org` each name
 * reaches its own host; through the egress gateway (PASSTHROUGH for `*.wikipedia.org`, routed to
 * www.wikipedia.org) both are served by www.wikipedia.org, the egress gateway counting two
 * connections to it (the task's `cx_total::2`). Needs root, `ip netns` and iptables; skipped with
 * the reason printed otherwise.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureUnavailable } from './captured-sleep';
import { meshConfigDoc } from '../../support/mesh-yaml';
import { startExample, tcpConnectionsOpened, type Running } from '../support';
import { EGRESS_HOST } from './cnn-mesh';
import { startExternalHost, type ExternalHost } from './external-host';

const reason = captureUnavailable('wildcard-egress-hosts');

const REGISTRY_ONLY = meshConfigDoc('outboundTrafficPolicy:\n  mode: REGISTRY_ONLY');

const WIKIPEDIA = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: wikipedia, namespace: default }
spec:
  hosts: ["*.wikipedia.org"]
  ports: [{ number: 443, name: https, protocol: HTTPS }]
`;

const THROUGH_EGRESS = (www: ExternalHost) => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: istio-egressgateway, namespace: default }
spec:
  selector: { istio: egressgateway }
  servers:
  - port: { number: 443, name: https, protocol: HTTPS }
    hosts: ["*.wikipedia.org"]
    tls: { mode: PASSTHROUGH }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: egressgateway-for-wikipedia, namespace: default }
spec:
  host: ${EGRESS_HOST}
  subsets: [{ name: wikipedia }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: direct-wikipedia-through-egress-gateway, namespace: default }
spec:
  hosts: ["*.wikipedia.org"]
  gateways: [mesh, istio-egressgateway]
  tls:
  - match: [{ gateways: [mesh], port: 443, sniHosts: ["*.wikipedia.org"] }]
    route:
    - destination: { host: ${EGRESS_HOST}, subset: wikipedia, port: { number: 443 } }
      weight: 100
  - match: [{ gateways: [istio-egressgateway], port: 443, sniHosts: ["*.wikipedia.org"] }]
    route:
    - destination: { host: www.wikipedia.org, port: { number: 443 } }
      weight: 100
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: www-wikipedia, namespace: default }
spec:
  hosts: [www.wikipedia.org]
  ports: [{ number: 443, name: https, protocol: HTTPS }]
  resolution: DNS
  # The test's www.wikipedia.org, where the task resolves the name by DNS.
  endpoints: [{ address: ${www.address}, ports: { https: ${www.httpsPort} } }]
`;

(reason ? describe.skip : describe)('wildcard-egress-hosts (captured)', () => {
  let mesh: Running;
  let en: ExternalHost;
  let de: ExternalHost;
  let www: ExternalHost;
  let netns: string;
  let cas: string;
  beforeAll(async () => {
    mesh = await startExample({ intercept: true });
    const linkOf = (workload: string) => mesh.mesh.workloads.get(`default/${workload}`)!.netns!.gateway;
    netns = mesh.mesh.workloads.get('default/productpage-v1')!.netns!.name;
    en = await startExternalHost(linkOf('productpage-v1'), ['en.wikipedia.org'], 443);
    de = await startExternalHost(linkOf('details-v1'), ['de.wikipedia.org'], 443);
    www = await startExternalHost(linkOf('ratings-v1'), ['www.wikipedia.org', '*.wikipedia.org']);
    mesh.mesh.resolveOutside({ 'en.wikipedia.org': en.address, 'de.wikipedia.org': de.address, 'www.wikipedia.org': www.address });
    // sleep trusts the three hosts' CAs (the task's hosts have public certificates).
    cas = mkdtempSync(join(tmpdir(), 'mast-wikipedia-'));
    writeFileSync(join(cas, 'ca.pem'), [en, de, www].map((h) => readFileSync(h.ca, 'utf8')).join(''));
    await mesh.edit('mesh/meshconfig.yaml', () => REGISTRY_ONLY);
  }, 90_000);
  afterAll(async () => {
    await mesh?.stop();
    for (const h of [en, de, www]) await h?.close();
    if (cas) rmSync(cas, { recursive: true, force: true });
  });

  /** `curl -s https://<name>/wiki/Main_Page | grep -o "<title>.*</title>"` from sleep: the title, or `error <code>`. */
  function title(name: string): Promise<string> {
    const code = `require('https').get('https://${name}/wiki/Main_Page',r=>{let b='';r.on('data',c=>b+=c);r.on('end',()=>console.log((/<title>.*<\\/title>/.exec(b)||[''])[0]))}).on('error',e=>console.log('error '+(e.code||e.message)))`;
    return new Promise((resolve, reject) =>
      execFile(
        'ip',
        ['netns', 'exec', netns, process.execPath, '-e', code],
        { timeout: 10_000, env: { ...process.env, NODE_EXTRA_CA_CERTS: join(cas, 'ca.pem') } },
        (err, stdout) => (err ? reject(err) : resolve(stdout.trim())),
      ),
    );
  }

  /** The egress gateway's TCP connections to www.wikipedia.org (`istio_tcp_connections_opened_total`). */
  function egressConnections(): Promise<number> {
    return tcpConnectionsOpened(`127.0.0.1:${mesh.mesh.egress.adminPort}`, 'www.wikipedia.org');
  }

  test('REGISTRY_ONLY without a ServiceEntry: the connection is reset', async () => {
    expect(await title('en.wikipedia.org')).toBe('error ECONNRESET');
    expect(en.hits).toEqual([]);
  });

  test('the ServiceEntry *.wikipedia.org: each name reaches its own host directly', async () => {
    await mesh.edit('mesh/wikipedia.yaml', () => WIKIPEDIA);
    expect(await title('en.wikipedia.org')).toBe('<title>en.wikipedia.org</title>');
    expect(await title('de.wikipedia.org')).toBe('<title>de.wikipedia.org</title>');
    expect([en.hits.length, de.hits.length, www.hits.length]).toEqual([1, 1, 0]);
  });

  test('through the egress gateway to www.wikipedia.org: both names served by it, two connections from the egress gateway', async () => {
    await mesh.edit('mesh/wikipedia.yaml', () => `${WIKIPEDIA}---\n${THROUGH_EGRESS(www)}`);
    expect(await title('en.wikipedia.org')).toBe('<title>en.wikipedia.org</title>');
    expect(await title('de.wikipedia.org')).toBe('<title>de.wikipedia.org</title>');
    expect([en.hits.length, de.hits.length]).toEqual([1, 1]);
    expect(www.hits.map((h) => h.serverName)).toEqual(['en.wikipedia.org', 'de.wikipedia.org']);
    expect(await egressConnections()).toBe(2);
  });
});
