/**
 * Gateways: which listener a port gets, which VirtualServices a server serves (host and namespace
 * scoping, merging), httpsRedirect, TCP servers and TLS passthrough by server name, and what a
 * gateway the Gateway does not select gets. Given this mesh, this request goes there.
 */
import { GATEWAY, compileMesh, runSimulations, staticService } from './simulation';

const SERVICES = `
${staticService('web', 'shop', 8080, 'HTTP', ['10.1.0.1'])}
---
${staticService('blog', 'default', 8080, 'HTTP', ['10.2.0.1'])}
---
${staticService('db', 'default', 5432, 'TCP', ['10.3.0.1', '10.3.0.2'])}
---
${staticService('vault', 'default', 8443, 'TLS', ['10.4.0.1'])}
---
${staticService('git', 'default', 8443, 'TLS', ['10.5.0.1'])}
`;
const WEB = 'outbound|8080||web.shop.svc.cluster.local';
const BLOG = 'outbound|8080||blog.default.svc.cluster.local';

const vs = (name: string, namespace: string, hosts: string, gateways: string, host: string, extra = '') => `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${name}, namespace: ${namespace} }
spec: { hosts: ${hosts}, gateways: ${gateways}, http: [{ name: ${name}${extra}, route: [{ destination: { host: ${host} } }] }] }
`;

runSimulations([
  {
    name: 'server hosts: a wildcard server serves the VirtualService hosts under it, named by the narrower name',
    proxy: GATEWAY,
    mesh: `${SERVICES}---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge, namespace: mast-system }
spec: { selector: { istio: ingressgateway }, servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*.example.com"] }] }
${vs('shop', 'shop', '[shop.example.com]', '[mast-system/edge]', 'web')}
${vs('all', 'default', '["*"]', '[mast-system/edge]', 'blog')}
${vs('elsewhere', 'default', '[blog.example.org]', '[mast-system/edge]', 'blog')}`,
    calls: [
      {
        name: 'an exact host under the wildcard',
        request: { host: 'shop.example.com' },
        expect: { listener: '0.0.0.0_80', virtualHost: 'shop.example.com:80', route: 'shop', cluster: WEB, endpoints: ['10.1.0.1:8080'] },
      },
      {
        name: 'a VirtualService for "*": the server\'s wildcard',
        request: { host: 'news.example.com' },
        expect: { virtualHost: '*.example.com:80', route: 'all', cluster: BLOG },
      },
      { name: 'the Host header may carry the port', request: { host: 'shop.example.com:80' }, expect: { route: 'shop' } },
      {
        name: 'a host outside the server hosts is not served',
        request: { host: 'blog.example.org' },
        expect: { outcome: 'no-route', status: 404 },
      },
    ],
  },
  {
    name: "server hosts scoped by namespace: ns/host, ./host (the Gateway's namespace), */host",
    proxy: GATEWAY,
    mesh: `${SERVICES}---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge, namespace: default }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["shop/shop.example.com", "./blog.example.com", "*/any.example.com"] }]
${vs('shop', 'shop', '[shop.example.com]', '[default/edge]', 'web')}
${vs('shop-from-default', 'default', '[shop.example.com]', '[edge]', 'blog')}
${vs('blog', 'default', '[blog.example.com]', '[edge]', 'blog')}
${vs('blog-from-shop', 'shop', '[blog.example.com]', '[default/edge]', 'web')}
${vs('any', 'shop', '[any.example.com]', '[default/edge]', 'web')}`,
    calls: [
      { name: 'shop/: the VirtualService in shop only', request: { host: 'shop.example.com' }, expect: { route: 'shop', cluster: WEB } },
      {
        name: "./: the VirtualService in the Gateway's namespace only",
        request: { host: 'blog.example.com' },
        expect: { route: 'blog', cluster: BLOG },
      },
      { name: '*/: any namespace', request: { host: 'any.example.com' }, expect: { route: 'any', cluster: WEB } },
    ],
  },
  {
    name: 'VirtualServices for one host on a gateway are merged (rules in order), and unbound ones are not served',
    proxy: GATEWAY,
    mesh: `${SERVICES}---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge, namespace: default }
spec: { selector: { istio: ingressgateway }, servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*"] }] }
${vs('first', 'default', '[site.example.com]', '[edge]', 'blog', ', match: [{ uri: { prefix: /blog } }]')}
${vs('second', 'shop', '[site.example.com]', '[default/edge]', 'web')}
${vs('mesh-only', 'default', '[mesh.example.com]', '[mesh]', 'blog')}`,
    calls: [
      {
        name: "the first VirtualService's rule",
        request: { host: 'site.example.com', path: '/blog/1' },
        expect: { virtualHost: 'site.example.com:80', route: 'first', cluster: BLOG },
      },
      {
        name: "the second's, merged after it",
        request: { host: 'site.example.com', path: '/cart' },
        expect: { virtualHost: 'site.example.com:80', route: 'second', cluster: WEB },
      },
      {
        name: 'a VirtualService bound to the mesh only',
        request: { host: 'mesh.example.com' },
        expect: { outcome: 'no-route', status: 404 },
      },
    ],
  },
  {
    name: 'httpsRedirect, a port map, and a port no Gateway opens',
    proxy: { ...GATEWAY, portMap: { 80: 8080 } },
    mesh: `${SERVICES}---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge, namespace: default }
spec: { selector: { istio: ingressgateway }, servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*"], tls: { httpsRedirect: true } }] }
${vs('blog', 'default', '["*"]', '[edge]', 'blog')}`,
    calls: [
      {
        name: 'every request is answered 301 to https',
        request: { port: 80, host: 'a.example.com', path: '/x?y=1' },
        expect: { outcome: 'https-redirect', listener: '0.0.0.0_80', status: 301, location: 'https://a.example.com/x?y=1' },
      },
      {
        name: 'the listener is found by its mapped port too',
        request: { port: 8080, host: 'a.example.com' },
        expect: { outcome: 'https-redirect', listener: '0.0.0.0_80' },
      },
      { name: 'no Gateway opens 81', request: { port: 81 }, expect: { outcome: 'no-listener' } },
    ],
  },
  {
    name: 'TCP server: the VirtualService tcp route, weighted',
    proxy: GATEWAY,
    port: 31400,
    mesh: `${SERVICES}---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: tcp, namespace: default }
spec: { selector: { istio: ingressgateway }, servers: [{ port: { number: 31400, name: tcp, protocol: TCP }, hosts: ["*"] }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: db, namespace: default }
spec:
  hosts: ["*"]
  gateways: [tcp]
  tcp: [{ match: [{ port: 31400 }], route: [{ destination: { host: db, port: { number: 5432 } }, weight: 80 }, { destination: { host: blog, port: { number: 8080 } }, weight: 20 }] }]`,
    calls: [
      {
        name: 'a connection at random 0.5',
        request: {},
        random: 0.5,
        expect: {
          outcome: 'connection',
          listener: '0.0.0.0_31400',
          cluster: 'outbound|5432||db.default.svc.cluster.local',
          endpoints: ['10.3.0.1:5432', '10.3.0.2:5432'],
        },
      },
      { name: 'a connection at random 0.9', request: {}, random: 0.9, expect: { outcome: 'connection', cluster: BLOG } },
    ],
  },
  {
    name: 'TLS passthrough: routed by server name (SNI), exact before wildcard, only names the server answers for',
    proxy: GATEWAY,
    port: 443,
    mesh: `${SERVICES}---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: passthrough, namespace: default }
spec: { selector: { istio: ingressgateway }, servers: [{ port: { number: 443, name: tls, protocol: TLS }, hosts: ["*.secure.example.com"], tls: { mode: PASSTHROUGH } }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: secure, namespace: default }
spec:
  hosts: ["*.secure.example.com"]
  gateways: [passthrough]
  tls:
  - { match: [{ port: 443, sniHosts: [vault.secure.example.com] }], route: [{ destination: { host: vault } }] }
  - { match: [{ port: 443, sniHosts: ["*.secure.example.com"] }], route: [{ destination: { host: git } }] }
  - { match: [{ port: 443, sniHosts: [outside.example.org] }], route: [{ destination: { host: vault } }] }`,
    calls: [
      {
        name: 'an exact server name',
        request: { sni: 'vault.secure.example.com' },
        expect: {
          outcome: 'connection',
          listener: '0.0.0.0_443',
          cluster: 'outbound|8443||vault.default.svc.cluster.local',
          endpoints: ['10.4.0.1:8443'],
        },
      },
      {
        name: 'server names are case-insensitive',
        request: { sni: 'Vault.Secure.Example.com' },
        expect: { cluster: 'outbound|8443||vault.default.svc.cluster.local' },
      },
      {
        name: 'a wildcard server name',
        request: { sni: 'code.secure.example.com' },
        expect: { cluster: 'outbound|8443||git.default.svc.cluster.local' },
      },
      { name: 'a name outside the server hosts is dropped', request: { sni: 'outside.example.org' }, expect: { outcome: 'no-server' } },
      { name: 'no SNI', request: {}, expect: { outcome: 'no-server' } },
    ],
  },
]);

test('a gateway the Gateway does not select gets no listener', () => {
  const config = compileMesh(
    `${SERVICES}---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge, namespace: default }
spec: { selector: { istio: ingressgateway }, servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*"] }] }
`,
    { mode: 'gateway', namespace: 'mast-system', labels: { istio: 'egressgateway' } },
  );
  expect(config.listeners).toEqual([]);
});
