/**
 * Issue 19, finding 5: AuthorizationPolicy on traffic that is not HTTP. Real proxies on loopback,
 * configs compiled from Istio YAML; each case asserts what reached the app (a TCP recorder), which
 * must be nothing when the policy denies.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { loadYaml } from '../../api';
import { buildIndex, compile, makeSnapshot, type ProxyIdentity } from '../../runtime/compile';
import { proxyV2Header } from '../../runtime/proxy/http/proxy-protocol';
import { MeshProxy } from '../../runtime/proxy/mesh-proxy';
import { CertificateAuthority } from '../../runtime/control/ca';
import { certificateRequest, generateKeys, privateKeyPem } from '../../runtime/contract/x509';
import { freePort } from '../../runtime/local/local-mesh';
import { backend, until } from '../support/proxy';
import { tcpRecorder, tcpTalk, type TcpRecorder } from './tcp-recorder';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function recorder(): Promise<TcpRecorder> {
  const r = await tcpRecorder();
  cleanups.push(() => r.close());
  return r;
}

/** A proxy running what mastd compiles for `identity` from `yaml`; only `keep` listeners are bound. */
async function proxyFor(yaml: string, identity: ProxyIdentity, keep: (name: string) => boolean): Promise<MeshProxy> {
  const compiled = compile(buildIndex(makeSnapshot(loadYaml(yaml).objects, 'v1')), identity);
  const proxy = new MeshProxy({ mode: identity.mode, workload: identity.labels.app ?? 'x', namespace: identity.namespace });
  const result = await proxy.apply({ ...compiled, listeners: compiled.listeners.filter((l) => keep(l.name)) });
  if (!result.ok) throw new Error(result.error);
  cleanups.push(() => proxy.drain(50));
  return proxy;
}

const policy = (name: string, spec: string, namespace = 'default') => `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ${name}, namespace: ${namespace} }
spec: ${spec}
`;

/** A sidecar in front of a TCP app (`mast local` style: the app's port known), with these policies. */
async function sidecar(app: TcpRecorder, policies: string): Promise<number> {
  const identity: ProxyIdentity = {
    mode: 'sidecar',
    namespace: 'default',
    labels: { app: 'tcp-echo' },
    inbound: { port: 0, appPort: app.port },
  };
  const proxy = await proxyFor(policies, identity, (n) => n === 'virtualInbound');
  return proxy.boundPort('virtualInbound')!;
}

const denied = (r: { reply: string; closed: boolean }) => r.closed && r.reply === '';

describe('L4 authorization at a sidecar (Istio "Authorization for TCP traffic")', () => {
  test('DENY on the port: the connection is closed and not one byte reaches the app', async () => {
    const app = await recorder();
    const port = await sidecar(
      app,
      policy(
        'deny-port',
        `{ selector: { matchLabels: { app: tcp-echo } }, action: DENY, rules: [{ to: [{ operation: { ports: ["${app.port}"] } }] }] }`,
      ),
    );
    expect(denied(await tcpTalk(port, '\x00\x01mysql handshake'))).toBe(true);
    expect(app.connections).toBe(0);
    expect(app.received).toBe('');
  });

  test('DENY on another port lets the connection through', async () => {
    const app = await recorder();
    const port = await sidecar(app, policy('deny-other', `{ action: DENY, rules: [{ to: [{ operation: { ports: ["1"] } }] }] }`));
    expect(await tcpTalk(port, 'hello')).toEqual({ reply: 'ok:hello', closed: false });
  });

  test('an ALLOW rule with an HTTP-only field (methods) never matches TCP: everything is denied', async () => {
    const app = await recorder();
    const port = await sidecar(
      app,
      policy('allow-get', `{ action: ALLOW, rules: [{ to: [{ operation: { methods: [GET], ports: ["${app.port}"] } }] }] }`),
    );
    expect(denied(await tcpTalk(port, 'port 9000'))).toBe(true);
    expect(app.received).toBe('');
  });

  test('a DENY rule with an HTTP-only field matches TCP with the field ignored (DENY fails closed)', async () => {
    const app = await recorder();
    const port = await sidecar(
      app,
      policy(
        'deny-get',
        `{ action: DENY, rules: [{ to: [{ operation: { methods: [GET] } }], when: [{ key: "request.headers[x-user]", values: [admin] }] }] }`,
      ),
    );
    expect(denied(await tcpTalk(port, 'anything'))).toBe(true);
    expect(app.connections).toBe(0);
  });

  test('ipBlocks: the peer address; an ALLOW for other addresses denies, notIpBlocks in a DENY too', async () => {
    const app = await recorder();
    const other = await sidecar(
      app,
      policy('allow-10', `{ action: ALLOW, rules: [{ from: [{ source: { ipBlocks: ["10.0.0.0/8"] } }] }] }`),
    );
    expect(denied(await tcpTalk(other, 'x'))).toBe(true);
    const local = await sidecar(app, policy('allow-lo', `{ action: ALLOW, rules: [{ from: [{ source: { ipBlocks: ["127.0.0.1"] } }] }] }`));
    expect(await tcpTalk(local, 'y')).toEqual({ reply: 'ok:y', closed: false });
    const notLocal = await sidecar(
      app,
      policy('deny-not-10', `{ action: DENY, rules: [{ from: [{ source: { notIpBlocks: ["10.0.0.0/8"] } }] }] }`),
    );
    expect(denied(await tcpTalk(notLocal, 'z'))).toBe(true);
    expect(app.received).toBe('y');
  });

  test('principals without mTLS: a plaintext peer has no identity, an ALLOW on principals denies it', async () => {
    const app = await recorder();
    const port = await sidecar(
      app,
      policy('allow-sa', `{ action: ALLOW, rules: [{ from: [{ source: { principals: ["cluster.local/ns/default/sa/sleep"] } }] }] }`),
    );
    expect(denied(await tcpTalk(port, 'x'))).toBe(true);
    expect(app.connections).toBe(0);
  });

  test('bytes that do not look like HTTP cannot walk around an L7 policy: they meet the TCP rules', async () => {
    // ALLOW only GET /public*: a lowercase request line is not sniffed as HTTP and used to be
    // joined to the app as raw TCP, past the HTTP authorization.
    const app = await recorder();
    const port = await sidecar(
      app,
      policy('public-only', `{ action: ALLOW, rules: [{ to: [{ operation: { methods: [GET], paths: ["/public*"] } }] }] }`),
    );
    expect(denied(await tcpTalk(port, 'get /admin HTTP/1.1\r\nhost: x\r\n\r\n'))).toBe(true);
    expect(app.received).toBe('');
  });
});

/** A TLS client with a workload certificate: what it got back before the proxy closed (or 400 ms). */
function mtlsTalk(
  port: number,
  id: { key: string; certificate: string; root: string },
  bytes: string,
): Promise<{ reply: string; closed: boolean }> {
  return new Promise((resolve) => {
    let reply = '';
    // The server's certificate names a SPIFFE identity, not a host: the chain is what matters here.
    const s = tls.connect(
      { port, host: '127.0.0.1', key: id.key, cert: id.certificate, ca: id.root, checkServerIdentity: () => undefined },
      () => s.write(bytes),
    );
    const done = (closed: boolean) => (clearTimeout(t), s.destroy(), resolve({ reply, closed }));
    const t = setTimeout(() => done(false), 400);
    s.on('data', (d) => (reply += d.toString('latin1')));
    s.on('close', () => done(true));
    s.on('error', () => done(true));
  });
}

describe('L4 authorization on mTLS: principals and namespaces from the peer certificate', () => {
  let ca: CertificateAuthority;
  const workload = async (namespace: string, serviceAccount: string) => {
    const keys = await generateKeys();
    const issued = await ca.sign(await certificateRequest(keys), { namespace, serviceAccount });
    return { ...issued, key: await privateKeyPem(keys) };
  };
  beforeAll(async () => {
    ca = await CertificateAuthority.generate('cluster.local');
  });

  test('ALLOW principals: the named workload gets through, another one of the mesh does not', async () => {
    const app = await recorder();
    const yaml = policy(
      'sleep-only',
      `{ selector: { matchLabels: { app: tcp-echo } }, action: ALLOW, rules: [{ from: [{ source: { principals: ["cluster.local/ns/foo/sa/sleep"] } }], to: [{ operation: { ports: ["${app.port}"] } }] }] }`,
      'foo',
    );
    const proxy = await proxyFor(
      yaml,
      { mode: 'sidecar', namespace: 'foo', labels: { app: 'tcp-echo' }, inbound: { port: 0, appPort: app.port } },
      (n) => n === 'virtualInbound',
    );
    proxy.setCertificate(await workload('foo', 'tcp-echo'));
    const port = proxy.boundPort('virtualInbound')!;
    expect(await mtlsTalk(port, await workload('foo', 'sleep'), 'from sleep')).toEqual({ reply: 'ok:from sleep', closed: false });
    expect(denied(await mtlsTalk(port, await workload('foo', 'curl'), 'from curl'))).toBe(true);
    expect(app.received).toBe('from sleep');
  });

  test('DENY notNamespaces: a workload of another namespace is closed before any byte reaches the app', async () => {
    const app = await recorder();
    const yaml = policy('ns-only', `{ action: DENY, rules: [{ from: [{ source: { notNamespaces: [foo] } }] }] }`, 'foo');
    const proxy = await proxyFor(
      yaml,
      { mode: 'sidecar', namespace: 'foo', labels: { app: 'tcp-echo' }, inbound: { port: 0, appPort: app.port } },
      (n) => n === 'virtualInbound',
    );
    proxy.setCertificate(await workload('foo', 'tcp-echo'));
    const port = proxy.boundPort('virtualInbound')!;
    expect(denied(await mtlsTalk(port, await workload('bar', 'sleep'), 'from bar'))).toBe(true);
    expect(await mtlsTalk(port, await workload('foo', 'sleep'), 'from foo')).toEqual({ reply: 'ok:from foo', closed: false });
    expect(app.received).toBe('from foo');
  });
});

/** A gateway with a TCP server on 31400 and a TLS PASSTHROUGH server on 8443, both to `app`. */
function gatewayYaml(app: TcpRecorder, policies: string): string {
  return `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge, namespace: default }
spec:
  selector: { app: istio-ingressgateway }
  servers:
  - { port: { number: 31400, name: tcp, protocol: TCP }, hosts: ["*"] }
  - { port: { number: 8443, name: tls, protocol: TLS }, hosts: ["*.example.com"], tls: { mode: PASSTHROUGH } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: app, namespace: default }
spec:
  hosts: ["db.example.com"]
  gateways: [edge]
  tcp: [{ match: [{ port: 31400 }], route: [{ destination: { host: app.default.svc.cluster.local, port: { number: ${app.port} } } }] }]
  tls: [{ match: [{ port: 8443, sniHosts: [db.example.com] }], route: [{ destination: { host: app.default.svc.cluster.local, port: { number: ${app.port} } } }] }]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: app, namespace: default }
spec: { hosts: [app.default.svc.cluster.local], ports: [{ number: ${app.port}, name: tcp, protocol: TCP }], resolution: STATIC, endpoints: [{ address: 127.0.0.1 }] }
${policies}`;
}

/** Istio's ingress gateway labels: policies written for Istio select it by either. */
const GATEWAY_LABELS = { istio: 'ingressgateway', app: 'istio-ingressgateway' };

async function gateway(app: TcpRecorder, policies: string, proxyProtocol = false): Promise<{ tcp: number; tls: number; proxy: MeshProxy }> {
  // Two listeners: two ports (port 0 for both would make them one listener).
  const identity: ProxyIdentity = {
    mode: 'gateway',
    namespace: 'istio-system',
    labels: GATEWAY_LABELS,
    portMap: { 31400: await freePort(), 8443: await freePort() },
    ...(proxyProtocol ? { proxyProtocol } : {}),
  };
  const proxy = await proxyFor(gatewayYaml(app, policies), identity, () => true);
  return { tcp: proxy.boundPort('0.0.0.0_31400')!, tls: proxy.boundPort('0.0.0.0_8443')!, proxy };
}

const ingressPolicy = (action: string, source: string) =>
  policy(
    'ingress-policy',
    `{ selector: { matchLabels: { app: istio-ingressgateway } }, action: ${action}, rules: [{ from: [{ source: ${source} }] }] }`,
    'istio-system',
  );

/** A real ClientHello for `servername`, sent through the gateway; resolves when the socket closes or 400 ms pass. */
function tlsHello(port: number, servername: string): Promise<void> {
  return new Promise((resolve) => {
    const s = tls.connect({ port, host: '127.0.0.1', servername, rejectUnauthorized: false });
    const done = () => (clearTimeout(t), s.destroy(), resolve());
    const t = setTimeout(done, 400);
    s.on('error', done);
    s.on('close', done);
  });
}

describe('L4 authorization at a gateway (Istio "Ingress Gateway Access Control")', () => {
  test('an istio-system policy selecting app: istio-ingressgateway with ipBlocks applies on a TCP server', async () => {
    const app = await recorder();
    const gw = await gateway(app, ingressPolicy('ALLOW', '{ ipBlocks: ["1.2.3.4", "5.6.7.0/24"] }'));
    expect(denied(await tcpTalk(gw.tcp, 'tcp bytes'))).toBe(true);
    expect(app.connections).toBe(0);
    const open = await gateway(app, ingressPolicy('ALLOW', '{ ipBlocks: ["127.0.0.0/8"] }'));
    expect(await tcpTalk(open.tcp, 'ok')).toEqual({ reply: 'ok:ok', closed: false });
  });

  test('TLS PASSTHROUGH: a denied client is closed before its ClientHello goes upstream', async () => {
    const app = await recorder();
    const gw = await gateway(app, ingressPolicy('DENY', '{ ipBlocks: ["127.0.0.1"] }'));
    await tlsHello(gw.tls, 'db.example.com');
    expect(app.connections).toBe(0);
    // The port AuthorizationPolicy (and the metric) see at a gateway is the one the proxy listens on, as Envoy's listener.
    expect(gw.proxy.metrics.render()).toContain(
      `mast_tcp_connections_denied_total{destination_port="${gw.tls}",policy="istio-system/ingress-policy[0]"} 1`,
    );
    const open = await gateway(app, ingressPolicy('DENY', '{ ipBlocks: ["10.0.0.1"] }'));
    await tlsHello(open.tls, 'db.example.com');
    await until('the hello at the app', () => app.received.length > 0);
    expect(app.received.charCodeAt(0)).toBe(0x16);
  });

  test('PROXY protocol: remoteIpBlocks match its source, ipBlocks the direct peer; the header never reaches the app', async () => {
    const app = await recorder();
    const from = (address: string) => proxyV2Header({ address, port: 40000 }, { address: '10.0.0.1', port: 31400 });
    const remote = await gateway(app, ingressPolicy('ALLOW', '{ remoteIpBlocks: ["203.0.113.0/24"] }'), true);
    expect(await tcpTalk(remote.tcp, Buffer.concat([from('203.0.113.7'), Buffer.from('client')]))).toEqual({
      reply: 'ok:client',
      closed: false,
    });
    expect(denied(await tcpTalk(remote.tcp, Buffer.concat([from('198.51.100.1'), Buffer.from('intruder')])))).toBe(true);
    expect(app.received).toBe('client');
    // A header's source is not the peer: an ALLOW on ipBlocks cannot be met by writing one.
    const direct = await gateway(app, ingressPolicy('ALLOW', '{ ipBlocks: ["203.0.113.7"] }'), true);
    expect(denied(await tcpTalk(direct.tcp, Buffer.concat([from('203.0.113.7'), Buffer.from('spoof')])))).toBe(true);
    expect(app.received).toBe('client');
  });

  test('PROXY protocol on a TLS PASSTHROUGH server: the header is read and taken off, the ClientHello routed by its name', async () => {
    const app = await recorder();
    const gw = await gateway(app, ingressPolicy('ALLOW', '{ remoteIpBlocks: ["203.0.113.0/24"] }'), true);
    const hello = (address: string) =>
      new Promise<void>((resolve) => {
        const raw = net.connect(gw.tls, '127.0.0.1', () => {
          // Header and hello in one write: the bytes read past the header already hold the hello.
          raw.cork();
          raw.write(proxyV2Header({ address, port: 40000 }, { address: '10.0.0.1', port: 8443 }));
          const s = tls.connect({ socket: raw, servername: 'db.example.com', rejectUnauthorized: false });
          s.on('error', () => undefined);
          setTimeout(() => raw.uncork(), 20);
        });
        const done = () => (clearTimeout(t), raw.destroy(), resolve());
        const t = setTimeout(done, 400);
        raw.on('close', done);
        raw.on('error', done);
      });
    await hello('198.51.100.1');
    expect(app.connections).toBe(0);
    await hello('203.0.113.7');
    await until('the hello at the app', () => app.received.length > 0);
    expect(app.received.charCodeAt(0)).toBe(0x16);
  });

  test("PROXY protocol on an HTTP server: ipBlocks see the direct peer, not the header's source", async () => {
    const web = await backend('web');
    cleanups.push(() => web.close());
    const yaml = `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge, namespace: default }
spec: { selector: { istio: ingressgateway }, servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*"] }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web, namespace: default }
spec: { hosts: [alpha.example.com], gateways: [edge], http: [{ route: [{ destination: { host: web.default.svc.cluster.local, port: { number: ${web.port} } } }] }] }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: web, namespace: default }
spec: { hosts: [web.default.svc.cluster.local], ports: [{ number: ${web.port}, name: http, protocol: HTTP }], resolution: STATIC, endpoints: [{ address: 127.0.0.1 }] }
${ingressPolicy('ALLOW', '{ ipBlocks: ["203.0.113.7"] }')}`;
    const proxy = await proxyFor(
      yaml,
      { mode: 'gateway', namespace: 'istio-system', labels: GATEWAY_LABELS, portMap: { 80: 0 }, proxyProtocol: true },
      () => true,
    );
    const header = proxyV2Header({ address: '203.0.113.7', port: 40000 }, { address: '10.0.0.1', port: 80 });
    const reply = await new Promise<string>((resolve) => {
      let out = '';
      const s = net.connect(proxy.boundPort('0.0.0.0_80')!, '127.0.0.1', () =>
        s.write(Buffer.concat([header, Buffer.from('GET /admin HTTP/1.1\r\nhost: alpha.example.com\r\nconnection: close\r\n\r\n')])),
      );
      s.on('data', (d) => (out += d));
      s.on('close', () => resolve(out));
      s.on('error', () => resolve(out));
    });
    expect(reply).toMatch(/^HTTP\/1\.1 403/);
    expect(web.seen).toEqual([]);
  });
});
