/**
 * Three of Istio's authorization tasks (istio.io content/en/docs/tasks/security/authorization/) on
 * ONE `mast local` of the bookinfo example, each a `describe` following the task's steps:
 * authz-tcp, authz-ingress (its classic-API half) and authz-dry-run. In namespace foo: httpbin
 * (httpbin.ts) and sleep with sidecars, tcp-echo (tcp-echo.ts answering "hello <line>").
 *
 * tcp-echo: the task's pod listens on 9000, 9001 and 9002; a `mast local` workload fronts one app
 * port, so the pod is three WorkloadEntries labelled `app: tcp-echo` (three sidecars, one policy
 * selecting them all), and their app ports stand for 9000/9001/9002 in the policies' `ports`. The
 * task's `nc` runs in sleep's pod; an app under `mast local` (no traffic capture) reaches TCP
 * services through no outbound port of its sidecar, so the test connects to the pod's ports as the
 * task's `nc $TCP_ECHO_IP 9002` does, for all three (the policies name no source: who connects
 * does not change their outcome).
 *
 * authz-ingress: the client's address. Every client of `mast local` is on loopback, and any
 * 127.0.0.x is one: the test's clients bind 127.0.0.2 ("your client IP") and 127.0.0.3 (the task's
 * "online proxy service" with another IP). The task's L7 load balancer variant runs with the mesh
 * config's `gatewayTopology.numTrustedProxies: 1` (mast local starts its gateway with it), the
 * load balancer being the x-forwarded-for header the test sends. Not tested here: a network load
 * balancer that keeps the source address (`externalTrafficPolicy: Local`) or sends the PROXY
 * protocol; the Gateway API variant.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { join } from 'node:path';
import { freePort } from '../../../runtime/local/local-mesh';
import { until } from '../../support/poll';
import { adminOf, fromWorkload, startExample, type Running } from '../support';
import { gatewayDoc, gatewayRouteDoc } from '../../support/mesh-yaml';
import { httpbinWorkload } from './httpbin-mesh';

const TCP_PORTS = [9000, 9001, 9002] as const;
/** The app port standing for each of tcp-echo's container ports. */
const tcpPort: Record<number, number> = {};
let httpbinPort = 0;

const files = async () => {
  httpbinPort = await freePort();
  for (const p of TCP_PORTS) tcpPort[p] = await freePort();
  const workloads = `---
${httpbinWorkload('foo', httpbinPort)}---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: sleep, namespace: foo }
spec: { address: 127.0.0.1, ports: { http: ${await freePort()} }, labels: { app: sleep } }
${TCP_PORTS.map(
  (p) => `---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: tcp-echo-${p}
  namespace: foo
  annotations:
    local.mast.dev/run: ${join(__dirname, 'tcp-echo.ts')}
    local.mast.dev/env: PREFIX=hello
spec: { address: 127.0.0.1, ports: { tcp: ${tcpPort[p]} }, labels: { app: tcp-echo } }
`,
).join('')}`;
  // httpbin's samples/httpbin/httpbin-gateway.yaml, and the L7 load balancer's one trusted hop.
  const edge = `${gatewayDoc(['"*"'], 'httpbin-gateway', 'foo')}
---
${gatewayRouteDoc('httpbin', ['"*"'], 'httpbin.foo.svc.cluster.local', 'httpbin-gateway', { namespace: 'foo', port: 8000 })}
---
apiVersion: v1
kind: ConfigMap
metadata: { name: istio, namespace: istio-system }
data:
  mesh: |
    defaultConfig:
      gatewayTopology:
        numTrustedProxies: 1
`;
  return { 'local/foo.yaml': workloads, 'mesh/httpbin-gateway.yaml': edge };
};

let mesh: Running;
beforeAll(async () => {
  mesh = await startExample({ files: await files(), accessLog: true });
}, 90_000);
afterAll(() => mesh?.stop());

const policy = (name: string, namespace: string, spec: string) => `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ${name}, namespace: ${namespace} }
spec:
${spec}`;

describe('authorization/authz-tcp', () => {
  /** `echo "port <p>" | nc <tcp-echo> <p> | grep hello && echo 'connection succeeded' || echo 'connection rejected'`. */
  function nc(p: number): Promise<string> {
    const port = mesh.mesh.workloads.get(`foo/tcp-echo-${p}`)!.inboundPort;
    return new Promise((resolve) => {
      let reply = '';
      const socket = net.connect(port, '127.0.0.1', () => socket.write(`port ${p}\n`));
      const done = () => {
        socket.destroy();
        const hello = reply.split('\n').find((l) => l.includes('hello'));
        resolve(hello ? `${hello}\nconnection succeeded` : 'connection rejected');
      };
      socket.setEncoding('utf8');
      socket.on('data', (d) => {
        reply += d;
        if (reply.includes('\n')) done();
      });
      socket.setTimeout(5000, done);
      socket.on('close', done);
      socket.on('error', done);
    });
  }
  const OK = (p: number) => `hello port ${p}\nconnection succeeded`;
  const REJECTED = 'connection rejected';
  const tcpPolicy = (action: string, operation: string) =>
    policy(
      'tcp-policy',
      'foo',
      `  selector: { matchLabels: { app: tcp-echo } }\n  action: ${action}\n  rules: [{ to: [{ operation: ${operation} }] }]\n`,
    );

  test('before you begin: ports 9000, 9001 and 9002 all echo', async () => {
    expect([await nc(9000), await nc(9001), await nc(9002)]).toEqual([OK(9000), OK(9001), OK(9002)]);
  });

  test('ALLOW ports 9000 and 9001: they echo, 9002 is rejected', async () => {
    await mesh.edit('mesh/authz-tcp.yaml', () => tcpPolicy('ALLOW', `{ ports: ["${tcpPort[9000]}", "${tcpPort[9001]}"] }`));
    expect([await nc(9000), await nc(9001), await nc(9002)]).toEqual([OK(9000), OK(9001), REJECTED]);
  });

  test('ALLOW with an HTTP field (methods: GET) on port 9000: the rule matches no TCP connection: 9000 and 9001 rejected', async () => {
    await mesh.edit('mesh/authz-tcp.yaml', () => tcpPolicy('ALLOW', `{ methods: ["GET"], ports: ["${tcpPort[9000]}"] }`));
    expect([await nc(9000), await nc(9001)]).toEqual([REJECTED, REJECTED]);
  });

  test('DENY methods GET: fails closed, the rule denies every TCP connection: 9000 and 9001 rejected', async () => {
    await mesh.edit('mesh/authz-tcp.yaml', () => tcpPolicy('DENY', '{ methods: ["GET"] }'));
    expect([await nc(9000), await nc(9001)]).toEqual([REJECTED, REJECTED]);
  });

  test('DENY methods GET on port 9000: only 9000 is rejected, 9001 echoes', async () => {
    await mesh.edit('mesh/authz-tcp.yaml', () => tcpPolicy('DENY', `{ methods: ["GET"], ports: ["${tcpPort[9000]}"] }`));
    expect([await nc(9000), await nc(9001)]).toEqual([REJECTED, OK(9001)]);
  });

  test('clean up: every port echoes again', async () => {
    await mesh.edit('mesh/authz-tcp.yaml', () => '# deleted\n');
    expect([await nc(9000), await nc(9001), await nc(9002)]).toEqual([OK(9000), OK(9001), OK(9002)]);
  });
});

describe('authorization/authz-ingress', () => {
  const CLIENT = '127.0.0.2';
  const ANOTHER_CLIENT = '127.0.0.3';

  /** `curl $INGRESS_HOST/headers` from `from` (a loopback address it binds), with the load balancer's x-forwarded-for when given. */
  function curl(from: string, xff?: string, userAgent = 'curl/8'): Promise<number> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = {
        host: 'httpbin.example.com',
        'user-agent': userAgent,
        ...(xff ? { 'x-forwarded-for': xff } : {}),
      };
      const req = http.get({ host: '127.0.0.1', port: mesh.port, path: '/headers', localAddress: from, headers, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.setTimeout(10_000, () => req.destroy(new Error('no answer in 10 s')));
      req.on('error', reject);
    });
  }

  /**
   * The client address of the request `send(userAgent)` makes, from the gateway's access log (the task
   * greps the gateway's log for it); the line is told from earlier ones by its user agent.
   */
  let sent = 0;
  async function clientIpFromLog(
    field: 'downstream_remote_address' | 'client_address',
    send: (ua: string) => Promise<number>,
  ): Promise<string> {
    const ua = `curl/client-ip-${++sent}`;
    await send(ua);
    const line = await until('the request in the gateway’s access log', () =>
      mesh.logs.find((l) => l.startsWith('[gateway] {') && l.includes(`"user_agent":"${ua}"`)),
    );
    const value = String(JSON.parse(line!.slice(line!.indexOf('{')))[field]);
    return field === 'downstream_remote_address' ? value.slice(0, value.lastIndexOf(':')) : value;
  }

  const ingressPolicy = (action: string, field: 'ipBlocks' | 'remoteIpBlocks', blocks: string[]) =>
    policy(
      'ingress-policy',
      'istio-system',
      `  selector: { matchLabels: { app: istio-ingressgateway } }\n  action: ${action}\n  rules: [{ from: [{ source: { ${field}: [${blocks.map((b) => `"${b}"`).join(', ')}] } }] }]\n`,
    );
  const apply = (yaml: string) => mesh.edit('mesh/authz-ingress.yaml', () => yaml);

  test('before you begin: httpbin through the ingress gateway answers /headers (200)', async () => {
    expect(await curl(CLIENT)).toBe(200);
  });

  describe('ipBlocks: the direct peer (a network load balancer that keeps the client address)', () => {
    let clientIp = '';

    test('ALLOW 1.2.3.4 and 5.6.7.0/24: the request is denied (403)', async () => {
      await apply(ingressPolicy('ALLOW', 'ipBlocks', ['1.2.3.4', '5.6.7.0/24']));
      expect(await curl(CLIENT)).toBe(403);
    });

    test('the client IP, from the gateway’s log, added to the list: allowed (200); another client still 403', async () => {
      clientIp = await clientIpFromLog('downstream_remote_address', (ua) => curl(CLIENT, undefined, ua));
      expect(clientIp).toBe(CLIENT);
      await apply(ingressPolicy('ALLOW', 'ipBlocks', ['1.2.3.4', '5.6.7.0/24', clientIp]));
      expect([await curl(CLIENT), await curl(ANOTHER_CLIENT)]).toEqual([200, 403]);
    });

    test('DENY the client IP: denied (403); a client with a different IP is allowed (200)', async () => {
      await apply(ingressPolicy('DENY', 'ipBlocks', [clientIp]));
      expect([await curl(CLIENT), await curl(ANOTHER_CLIENT)]).toEqual([403, 200]);
    });

    test('ipBlocks never reads x-forwarded-for: a header naming the allowed address does not let another peer in', async () => {
      await apply(ingressPolicy('ALLOW', 'ipBlocks', [clientIp]));
      expect(await curl(ANOTHER_CLIENT, clientIp)).toBe(403);
    });
  });

  describe('remoteIpBlocks: the client past one trusted proxy (numTrustedProxies: 1, an HTTP load balancer’s x-forwarded-for)', () => {
    const SEEN_BY_LB = '198.51.100.7';
    let clientIp = '';

    test('ALLOW 1.2.3.4 and 5.6.7.0/24: the request is denied (403); a client in 5.6.7.0/24 is allowed', async () => {
      await apply(ingressPolicy('ALLOW', 'remoteIpBlocks', ['1.2.3.4', '5.6.7.0/24']));
      expect([await curl(CLIENT, SEEN_BY_LB), await curl(CLIENT, '5.6.7.8')]).toEqual([403, 200]);
    });

    test('the client IP, from the gateway’s log, added: allowed (200); another client behind the balancer 403', async () => {
      clientIp = await clientIpFromLog('client_address', (ua) => curl(CLIENT, SEEN_BY_LB, ua));
      expect(clientIp).toBe(SEEN_BY_LB);
      await apply(ingressPolicy('ALLOW', 'remoteIpBlocks', ['1.2.3.4', '5.6.7.0/24', clientIp]));
      expect([await curl(CLIENT, SEEN_BY_LB), await curl(CLIENT, '203.0.113.9')]).toEqual([200, 403]);
    });

    test('DENY the client IP: denied (403); a different client IP is allowed (200)', async () => {
      await apply(ingressPolicy('DENY', 'remoteIpBlocks', [clientIp]));
      expect([await curl(CLIENT, SEEN_BY_LB), await curl(CLIENT, '203.0.113.9')]).toEqual([403, 200]);
    });
  });

  test('clean up: /headers answers 200', async () => {
    await apply('# deleted\n');
    expect(await curl(CLIENT)).toBe(200);
  });
});

describe('authorization/authz-dry-run', () => {
  const sleepToHttpbin = (path: string, headers: Record<string, string> = {}) =>
    fromWorkload(mesh.mesh, 'foo/sleep', `http://httpbin.foo:8000${path}`, headers);
  const admin = (path: string, method = 'GET') => fetch(`http://127.0.0.1:${adminOf(mesh.mesh, 'foo/httpbin')}${path}`, { method });
  const POLICY_ID = 'ns[foo]-policy[deny-path-headers]-rule[0]';

  test('before you begin: rbac at debug on httpbin’s proxy; sleep reaches httpbin (200)', async () => {
    expect(await (await admin('/logging?rbac=debug', 'POST')).text()).toMatch(/^rbac: debug$/m);
    expect((await sleepToHttpbin('/ip')).status).toBe(200);
  });

  test('the DENY policy on /headers in dry run: 20 requests with X-B3-Sampled: 1 all answer 200', async () => {
    await mesh.edit(
      'mesh/authz-dry-run.yaml',
      () => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-path-headers
  namespace: foo
  annotations: { "istio.io/dry-run": "true" }
spec:
  selector: { matchLabels: { app: httpbin } }
  action: DENY
  rules: [{ to: [{ operation: { paths: ["/headers"] } }] }]
`,
    );
    const codes: number[] = [];
    for (let i = 0; i < 20; i++) codes.push((await sleepToHttpbin('/headers', { 'x-b3-sampled': '1' })).status);
    expect(codes).toEqual(Array(20).fill(200));
  });

  test('the proxy log: "shadow denied, matched policy ns[foo]-policy[deny-path-headers]-rule[0]" for each', async () => {
    const shadow = () => mesh.logs.filter((l) => l.startsWith('[sidecar httpbin.foo]') && l.includes('rbac shadow denied'));
    await until('20 shadow denials in httpbin’s proxy log', () => shadow().length >= 20);
    expect(shadow()[0]).toMatch(/ debug envoy rbac shadow denied, matched policy ns\[foo\]-policy\[deny-path-headers\]-rule\[0\]$/);
  });

  test('the metric: envoy_http_inbound_0_0_0_0_<port>_rbac{authz_dry_run_action="deny",authz_dry_run_result="denied"} counts the 20', async () => {
    const text = await (await admin('/stats/prometheus')).text();
    const m = /^envoy_http_inbound_0_0_0_0_(\d+)_rbac\{authz_dry_run_action="deny",authz_dry_run_result="denied"\} (\d+)$/m.exec(text);
    expect(m && [Number(m[1]), Number(m[2])]).toEqual([httpbinPort, 20]);
  });

  test('the trace: httpbin’s span carries istio.authorization.dry_run.deny_policy.name and .result: denied', async () => {
    const tagged = () =>
      mesh.mesh.traces.store
        .recent(50)
        .flatMap((t) => t.spans)
        .find((s) => s.authz?.['istio.authorization.dry_run.deny_policy.result'] === 'denied');
    const span = (await until('a span with the dry-run tags', tagged, 10_000))!;
    expect(span.authz).toEqual({
      'istio.authorization.dry_run.deny_policy.name': POLICY_ID,
      'istio.authorization.dry_run.deny_policy.result': 'denied',
    });
    expect([span.kind, span.service]).toEqual(['SERVER', expect.stringContaining('httpbin')]);
  });

  test('the dry run over (annotation "false"): /headers is denied (403)', async () => {
    await mesh.edit('mesh/authz-dry-run.yaml', (t) => t.replace('"istio.io/dry-run": "true"', '"istio.io/dry-run": "false"'));
    expect((await sleepToHttpbin('/headers')).status).toBe(403);
  });

  test('clean up', async () => {
    await mesh.edit('mesh/authz-dry-run.yaml', () => '# deleted\n');
    expect((await sleepToHttpbin('/headers')).status).toBe(200);
  });
});
