/**
 * Terminated TLS servers at a gateway, as Istio builds them: one filter chain per server (its own
 * certificate, client verification and routes) picked by the ClientHello's name, exact names
 * before wildcards, PASSTHROUGH routes beside them on the same port; a request over one server's
 * connection for another server's host is a 404; a later server repeating a TLS host is not served.
 */
import { gatewayServersDoc, meshYaml } from '../support/mesh-yaml';
import { GATEWAY, compileMesh, runSimulations, staticService } from './simulation';

const SERVICES = meshYaml(
  staticService('httpbin', 'default', 8000, 'HTTP', ['10.1.0.1']),
  staticService('helloworld', 'default', 5000, 'HTTP', ['10.2.0.1']),
  staticService('my-nginx', 'default', 443, 'HTTPS', ['10.3.0.1']),
);
const HTTPBIN = 'outbound|8000||httpbin.default.svc.cluster.local';
const HELLO = 'outbound|5000||helloworld.default.svc.cluster.local';
const NGINX = 'outbound|443||my-nginx.default.svc.cluster.local';

const ROUTES = `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: httpbin, namespace: default }
spec: { hosts: [httpbin.example.com], gateways: [mygateway], http: [{ name: httpbin, route: [{ destination: { host: httpbin } }] }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: helloworld, namespace: default }
spec: { hosts: ["*.example.com"], gateways: [mygateway], http: [{ name: hello, route: [{ destination: { host: helloworld } }] }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: nginx, namespace: default }
spec: { hosts: [nginx.example.com], gateways: [mygateway], tls: [{ match: [{ port: 443, sniHosts: [nginx.example.com] }], route: [{ destination: { host: my-nginx } }] }] }
`;

/** An HTTPS server on port 443. */
const server = (name: string, hosts: string, tls: string) =>
  `{ port: { number: 443, name: ${name}, protocol: HTTPS }, hosts: ${hosts}, tls: ${tls} }`;

/** The services, the Gateway `mygateway` with these servers, and the routes. */
const gatewayMesh = (...servers: string[]) => `${SERVICES}---
${gatewayServersDoc(servers, 'mygateway')}
${ROUTES}`;

runSimulations([
  {
    name: 'several hosts on 443, each its own certificate and TLS mode, chosen by SNI; PASSTHROUGH beside them',
    proxy: GATEWAY,
    port: 443,
    mesh: gatewayMesh(
      server('https-httpbin', '[httpbin.example.com]', '{ mode: SIMPLE, credentialName: httpbin-credential }'),
      server('https-hello', '["*.example.com"]', '{ mode: MUTUAL, credentialName: wildcard-credential }'),
      server('https-nginx', '[nginx.example.com]', '{ mode: PASSTHROUGH }'),
    ),
    calls: [
      {
        name: 'httpbin.example.com: its own server and certificate, SIMPLE',
        request: { sni: 'httpbin.example.com', host: 'httpbin.example.com', scheme: 'https' },
        expect: {
          outcome: 'routed',
          listener: '0.0.0.0_443',
          server: 'https.443.https-httpbin.mygateway.default',
          tls: { credentialName: 'httpbin-credential' },
          cluster: HTTPBIN,
        },
      },
      {
        name: 'helloworld.example.com: the wildcard server, MUTUAL, its own certificate',
        request: { sni: 'helloworld.example.com', host: 'helloworld.example.com', scheme: 'https' },
        expect: {
          outcome: 'routed',
          server: 'https.443.https-hello.mygateway.default',
          tls: { credentialName: 'wildcard-credential', mode: 'MUTUAL' },
          cluster: HELLO,
        },
      },
      {
        name: 'the exact name wins over the wildcard that also covers it',
        request: { sni: 'HTTPBIN.example.com', host: 'httpbin.example.com' },
        expect: { server: 'https.443.https-httpbin.mygateway.default', cluster: HTTPBIN },
      },
      {
        name: 'SNI of httpbin, Host of helloworld: 404 (the httpbin server routes its own hosts only)',
        request: { sni: 'httpbin.example.com', host: 'helloworld.example.com' },
        expect: { outcome: 'no-route', server: 'https.443.https-httpbin.mygateway.default', status: 404 },
      },
      {
        name: 'SNI under the wildcard, Host of httpbin: routed by the MUTUAL server, which serves every host under *.example.com (as Istio)',
        request: { sni: 'other.example.com', host: 'httpbin.example.com' },
        expect: { outcome: 'routed', server: 'https.443.https-hello.mygateway.default', cluster: HTTPBIN },
      },
      {
        name: 'SNI under the wildcard, Host outside it: 404 on that server',
        request: { sni: 'other.example.com', host: 'example.org' },
        expect: { outcome: 'no-route', server: 'https.443.https-hello.mygateway.default', status: 404 },
      },
      {
        name: 'nginx.example.com: passed through untouched, beside the terminated servers',
        request: { sni: 'nginx.example.com' },
        expect: { outcome: 'connection', listener: '0.0.0.0_443', cluster: NGINX },
      },
      {
        name: 'a name no server has: no server (closed)',
        request: { sni: 'example.org', host: 'example.org' },
        expect: { outcome: 'no-server' },
      },
      {
        name: 'no SNI and no server for "*": no server (closed)',
        request: { host: 'httpbin.example.com' },
        expect: { outcome: 'no-server' },
      },
    ],
  },
  {
    name: 'a server for "*" takes every name, and clients without one; OPTIONAL_MUTUAL keeps its CA',
    proxy: GATEWAY,
    port: 443,
    mesh: gatewayMesh(
      server(
        'https-httpbin',
        '[httpbin.example.com]',
        '{ mode: SIMPLE, serverCertificate: /certs/httpbin.crt, privateKey: /certs/httpbin.key }',
      ),
      server(
        'https-any',
        '["*"]',
        '{ mode: OPTIONAL_MUTUAL, serverCertificate: /certs/any.crt, privateKey: /certs/any.key, caCertificates: /certs/ca.crt }',
      ),
    ),
    calls: [
      {
        name: 'no SNI: the "*" server',
        request: { host: 'helloworld.example.com' },
        expect: {
          server: 'https.443.https-any.mygateway.default',
          tls: { certificateFile: '/certs/any.crt', keyFile: '/certs/any.key', mode: 'OPTIONAL_MUTUAL', caFile: '/certs/ca.crt' },
          cluster: HELLO,
        },
      },
      {
        name: 'httpbin.example.com: its own server',
        request: { sni: 'httpbin.example.com', host: 'httpbin.example.com' },
        expect: {
          server: 'https.443.https-httpbin.mygateway.default',
          tls: { certificateFile: '/certs/httpbin.crt', keyFile: '/certs/httpbin.key' },
        },
      },
    ],
  },
]);

test('a later TLS server repeating a host of the port is not served (Istio skips it), in Gateway order', () => {
  const config = compileMesh(
    gatewayMesh(
      server('https-a', '[httpbin.example.com]', '{ mode: SIMPLE, credentialName: first }'),
      server('https-b', '[httpbin.example.com, helloworld.example.com]', '{ mode: SIMPLE, credentialName: second }'),
    ),
    GATEWAY,
  );
  const listener = config.listeners.find((l) => l.matchPort === 443);
  expect(listener?.tlsServers?.map((s) => [s.name, s.serverNames, s.tls.credentialName])).toEqual([
    ['https.443.https-a.mygateway.default', ['httpbin.example.com'], 'first'],
  ]);
  expect(listener?.tls).toBeUndefined();
});

test('a plaintext port keeps one route table for all its servers; https redirect stays a plaintext server’s', () => {
  const config = compileMesh(
    gatewayMesh(
      '{ port: { number: 80, name: http, protocol: HTTP }, hosts: [httpbin.example.com], tls: { httpsRedirect: true } }',
      server('https-a', '[httpbin.example.com]', '{ mode: SIMPLE, credentialName: first, httpsRedirect: true }'),
    ),
    GATEWAY,
  );
  expect(config.listeners.find((l) => l.matchPort === 80)).toMatchObject({ httpsRedirect: true });
  const tls = config.listeners.find((l) => l.matchPort === 443);
  expect(tls?.httpsRedirect).toBeUndefined();
  expect(tls?.tlsServers?.[0].virtualHosts.map((v) => v.name)).toEqual(['httpbin.example.com:443']);
});
