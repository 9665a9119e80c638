import { loadYaml, validate } from '../../api';
import { jwksProblem, jwksUriProblem } from '../../api/validate/request-authentication';

test("the authn-policy task's RequestAuthentication validates without findings", () => {
  const { objects, findings } = loadYaml(`apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt-example, namespace: istio-system }
spec:
  selector: { matchLabels: { istio: ingressgateway } }
  jwtRules:
  - issuer: testing@secure.istio.io
    jwksUri: https://raw.githubusercontent.com/istio/istio/master/security/tools/jwt/samples/jwks.json
    outputPayloadToHeader: x-jwt-payload
    outputClaimToHeaders: [{ header: x-jwt-claim-foo, claim: foo }]
    fromHeaders: [{ name: x-jwt-assertion, prefix: "Bearer " }]
    fromParams: [my_token]
    fromCookies: [session]
    forwardOriginalToken: true
    audiences: [app.example.com]
`);
  expect(findings).toEqual([]);
  expect(validate(objects, { scope: 'resource' })).toEqual([]);
});

test('a rule without issuer is rejected (required, as Istio)', () => {
  const found = validate(
    loadYaml(
      'apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: { name: x, namespace: foo }\nspec: { jwtRules: [{ jwksUri: "https://a/j" }] }\n',
    ).objects,
    { scope: 'resource' },
  );
  expect(found.map((f) => [f.code, f.path])).toEqual([['MAST0003', 'spec.jwtRules[0].issuer']]);
});

test.each([
  ['{"keys":[{"kty":"RSA","n":"x","e":"AQAB"}]}', undefined],
  ['{', /not JSON/],
  ['{"keys":{}}', /no "keys" array/],
  ['{"keys":[{"n":"x"}]}', /keys\[0\] has no "kty"/],
])('inline jwks %s', (text, problem) => {
  const found = jwksProblem(text);
  if (problem) expect(found).toMatch(problem);
  else expect(found).toBeUndefined();
});

test.each([
  ['https://example.com/jwks.json', undefined],
  ['http://127.0.0.1:8080/jwks', undefined],
  ['file:///etc/jwks.json', /scheme file:/],
  ['/jwks.json', /not an absolute URL/],
])('jwksUri %s', (uri, problem) => {
  const found = jwksUriProblem(uri);
  if (problem) expect(found).toMatch(problem);
  else expect(found).toBeUndefined();
});

test('a VirtualService header match on @request.auth.claims.* (jwt-route) validates', () => {
  const { objects } = loadYaml(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: httpbin, namespace: foo }
spec:
  hosts: ["*"]
  gateways: [httpbin-gateway]
  http:
  - match: [{ uri: { prefix: /headers }, headers: { "@request.auth.claims.groups": { exact: group1 } } }]
    route: [{ destination: { host: httpbin, port: { number: 8000 } } }]
`);
  expect(validate(objects, { scope: 'resource' }).filter((f) => f.severity === 'Error')).toEqual([]);
});
