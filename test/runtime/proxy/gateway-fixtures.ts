/**
 * What the gateway TLS tests share: the ingress gateway's config compiled from their mesh, and the
 * services behind their routes: `web` (plain HTTP on a local backend) and, behind a PASSTHROUGH
 * port, `inner`, a TLS server of its own which the gateway never decrypts, reached by SNI through
 * the `secure` VirtualService.
 */
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { KubeObject } from '../../../api';
import { buildIndex, compile, makeSnapshot } from '../../../runtime/compile';
import type { ProxyConfig } from '../../../runtime/contract/proxy-config';

/** The config of mast-system's ingress gateway (`istio: ingressgateway`) for `objects`, its ports bound as `portMap` says. */
export const gatewayConfig = (objects: KubeObject[], portMap: Record<number, number>): ProxyConfig =>
  compile(buildIndex(makeSnapshot(objects, 'v1')), {
    mode: 'gateway',
    namespace: 'mast-system',
    labels: { istio: 'ingressgateway' },
    portMap,
  });

/** The `web` ServiceEntry: web.default.svc.cluster.local port 80, its one endpoint 127.0.0.1:`port`. */
export const webService = (port: number) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: web, namespace: default }
spec: { hosts: [web.default.svc.cluster.local], ports: [{ number: 80, name: http, protocol: HTTP }], resolution: STATIC, endpoints: [{ address: 127.0.0.1, ports: { http: ${port} } }] }`;

/** The `inner` ServiceEntry: TLS on port 443, its one endpoint 127.0.0.1:`port`. */
export const innerService = (port: number) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: inner, namespace: default }
spec: { hosts: [inner.default.svc.cluster.local], ports: [{ number: 443, name: tls, protocol: TLS }], resolution: STATIC, endpoints: [{ address: 127.0.0.1, ports: { tls: ${port} } }] }`;

/** The `secure` VirtualService on the `edge` Gateway: secure.example.com on `gatewayPort`, by SNI, to inner:443. */
export const secureRoute = (gatewayPort: number) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: secure, namespace: default }
spec:
  hosts: [secure.example.com]
  gateways: [edge]
  tls: [{ match: [{ port: ${gatewayPort}, sniHosts: [secure.example.com] }], route: [{ destination: { host: inner.default.svc.cluster.local, port: { number: 443 } } }] }]`;

/** The inner TLS server on 127.0.0.1 with its own certificate, answering every request with one line; its port. */
export async function innerServer(pair: { cert: string; key: string }): Promise<{ server: https.Server; port: number }> {
  const server = https.createServer({ cert: pair.cert, key: pair.key }, (_req, res) => res.end('inner, end to end'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port };
}
