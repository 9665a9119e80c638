/**
 * Istio's task traffic-management/egress/http-proxy ("Using an External HTTPS Proxy") with captured
 * traffic (`mast local --intercept`), on a mesh with `outboundTrafficPolicy: REGISTRY_ONLY` as the
 * egress tasks install it. The HTTPS proxy (the task's squid) is a forward proxy of the test on
 * port 3128 at this machine's end of a namespace's link, logging each CONNECT; en.wikipedia.org is
 * a server of the test that the proxy reaches (it resolves the name as squid's DNS would). sleep is
 * an app in productpage's network namespace that tunnels through the proxy itself (what curl does
 * with HTTPS_PROXY). The documented outcomes: from outside the mesh the proxy works; from sleep,
 * once the ServiceEntry names the proxy's address and TCP port 3128 (resolution NONE: each
 * connection to where it was sent), the page comes through the tunnel, sleep's sidecar counts the
 * connection to `my-company-proxy.com`, and the proxy logs `CONNECT en.wikipedia.org:443`. Needs
 * root, `ip netns` and iptables; skipped with the reason printed otherwise.
 */
import { execFile } from 'node:child_process';
import * as http from 'node:http';
import * as net from 'node:net';
import { captureUnavailable } from './captured-sleep';
import { meshConfigDoc } from '../../support/mesh-yaml';
import { startExample, tcpConnectionsOpened, type Running } from '../support';
import { startExternalHost, type ExternalHost } from './external-host';

const reason = captureUnavailable('http-proxy');

const PROXY_PORT = 3128;
const REGISTRY_ONLY = meshConfigDoc('outboundTrafficPolicy:\n  mode: REGISTRY_ONLY');

(reason ? describe.skip : describe)('http-proxy (captured)', () => {
  let mesh: Running;
  let wikipedia: ExternalHost;
  let proxy: http.Server;
  let proxyIp: string;
  let netns: string;
  /** The proxy's access log: `CONNECT <host:port>` per tunnel. */
  const proxyLog: string[] = [];
  /** The tunnels' sockets, which the server no longer tracks once CONNECT took them: closed at the end. */
  const tunnels = new Set<net.Socket>();
  beforeAll(async () => {
    mesh = await startExample({ intercept: true });
    const linkOf = (workload: string) => mesh.mesh.workloads.get(`default/${workload}`)!.netns!.gateway;
    netns = mesh.mesh.workloads.get('default/productpage-v1')!.netns!.name;
    wikipedia = await startExternalHost(linkOf('productpage-v1'), ['en.wikipedia.org']);
    proxyIp = linkOf('details-v1');
    // squid: CONNECT to 443 only, the name resolved as its DNS would.
    proxy = http.createServer((_req, res) => res.writeHead(405).end());
    proxy.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
      proxyLog.push(`CONNECT ${req.url}`);
      const [host, port] = (req.url ?? '').split(':');
      if (host !== 'en.wikipedia.org' || port !== '443') return void client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      tunnels.add(client);
      const upstream = net.connect(wikipedia.httpsPort, wikipedia.address, () => {
        client.write('HTTP/1.1 200 Connection established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      tunnels.add(upstream);
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    await new Promise<void>((r) => proxy.listen(PROXY_PORT, proxyIp, r));
    await mesh.edit('mesh/meshconfig.yaml', () => REGISTRY_ONLY);
  }, 90_000);
  afterAll(async () => {
    await mesh?.stop();
    for (const s of tunnels) s.destroy();
    proxy?.closeAllConnections();
    await new Promise((r) => (proxy ? proxy.close(r) : r(undefined)));
    await wikipedia?.close();
  });

  /** `HTTPS_PROXY=$PROXY_IP:$PROXY_PORT curl https://en.wikipedia.org/wiki/Main_Page | grep -o "<title>.*</title>"`, from sleep or from outside the mesh. */
  function viaProxy(from: 'sleep' | 'outside'): Promise<string> {
    const code = `const t=require('tls');require('http').request({host:'${proxyIp}',port:${PROXY_PORT},method:'CONNECT',path:'en.wikipedia.org:443'}).on('connect',(r,s)=>{if(r.statusCode!==200)return console.log('proxy '+r.statusCode);const c=t.connect({socket:s,servername:'en.wikipedia.org'},()=>c.write('GET /wiki/Main_Page HTTP/1.1\\r\\nhost: en.wikipedia.org\\r\\nconnection: close\\r\\n\\r\\n'));let b='';c.on('data',d=>b+=d);c.on('end',()=>console.log((/<title>.*<\\/title>/.exec(b)||[''])[0]));c.on('error',e=>console.log('error '+e.code))}).on('error',e=>console.log('error '+(e.code||e.message))).end()`;
    const argv = from === 'sleep' ? ['ip', 'netns', 'exec', netns, process.execPath, '-e', code] : [process.execPath, '-e', code];
    return new Promise((resolve, reject) =>
      execFile(argv[0], argv.slice(1), { timeout: 10_000, env: { ...process.env, NODE_EXTRA_CA_CERTS: wikipedia.ca } }, (err, stdout) =>
        err ? reject(err) : resolve(stdout.trim()),
      ),
    );
  }

  /** sleep's sidecar's TCP connections to the proxy's ServiceEntry (`istio_tcp_connections_opened_total`). */
  function sidecarConnections(): Promise<number> {
    const pp = mesh.mesh.workloads.get('default/productpage-v1')!;
    return tcpConnectionsOpened(`${pp.adminHost}:${pp.adminPort}`, 'my-company-proxy.com');
  }

  test('from outside the mesh the proxy tunnels to en.wikipedia.org', async () => {
    expect(await viaProxy('outside')).toBe('<title>en.wikipedia.org</title>');
    expect(proxyLog).toEqual(['CONNECT en.wikipedia.org:443']);
  });

  test('from sleep under REGISTRY_ONLY, without a ServiceEntry for the proxy: the connection is reset, the proxy sees nothing', async () => {
    expect(await viaProxy('sleep')).toBe('error ECONNRESET');
    expect(proxyLog).toHaveLength(1);
  });

  test("a ServiceEntry for the proxy's address and TCP port: the page through the tunnel, counted by sleep's sidecar, CONNECT in the proxy's log", async () => {
    await mesh.edit(
      'mesh/proxy.yaml',
      () => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: proxy, namespace: default }
spec:
  hosts: [my-company-proxy.com]
  addresses: [${proxyIp}/32]
  ports: [{ number: ${PROXY_PORT}, name: tcp, protocol: TCP }]
  location: MESH_EXTERNAL
`,
    );
    expect(await viaProxy('sleep')).toBe('<title>en.wikipedia.org</title>');
    expect(await sidecarConnections()).toBe(1);
    expect(proxyLog).toEqual(['CONNECT en.wikipedia.org:443', 'CONNECT en.wikipedia.org:443']);
  });
});
