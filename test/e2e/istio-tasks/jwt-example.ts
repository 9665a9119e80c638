/**
 * The `jwt-example` RequestAuthentication of Istio's authn-policy and claim-to-header tasks: the
 * tasks' demo issuer, and a local JWKS server in place of the tasks' jwks.json URL, serving a key
 * of the test's own.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { jwksOf, type TestKey } from '../../runtime/proxy/jwt/mint';

export const ISSUER = 'testing@secure.istio.io';

/**
 * `jwt-example` in `namespace` for the workloads whose labels include `selector` (`key: value`),
 * tokens of ISSUER checked against `jwksUri`; `more`: further lines of its rule, indented four spaces.
 */
export const jwtExample = (namespace: string, selector: string, jwksUri: string, more = '') => `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt-example, namespace: ${namespace} }
spec:
  selector: { matchLabels: { ${selector} } }
  jwtRules:
  - issuer: ${ISSUER}
    jwksUri: ${jwksUri}
${more}`;

/** A JWKS server on 127.0.0.1 with `key`'s public half, and its jwks.json URL. */
export async function serveJwks(key: TestKey): Promise<{ server: http.Server; uri: string }> {
  const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(jwksOf(key)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, uri: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json` };
}
