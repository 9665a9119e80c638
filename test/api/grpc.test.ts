/** HTTP/2 and gRPC settings as Istio's webhook takes them: what passes, and what each wrong value is told. */
import { loadYaml, validate } from '../../api';

const findings = (kind: string, spec: string) =>
  validate(
    loadYaml(`apiVersion: networking.istio.io/v1\nkind: ${kind}\nmetadata: { name: x, namespace: default }\nspec: ${spec}\n`).objects,
    {
      scope: 'resource',
    },
  )
    .filter((f) => f.severity !== 'Info')
    .map((f) => [f.code, f.path]);

const route = (extra: string) => `{ hosts: [a], http: [{ route: [{ destination: { host: a } }], ${extra} }] }`;
const pool = (http: string) => `{ host: a, trafficPolicy: { connectionPool: { http: ${http} } } }`;

describe('retryOn', () => {
  test.each([
    'unavailable,cancelled,deadline-exceeded,internal,resource-exhausted',
    '5xx,gateway-error,reset,connect-failure,retriable-4xx,refused-stream,retriable-status-codes,503',
    ' connect-failure , unavailable ',
    'reset-before-request,retriable-headers,envoy-ratelimited,http3-post-connect-failure',
  ])('"%s": every condition known', (retryOn) => {
    expect(findings('VirtualService', route(`retries: { attempts: 2, retryOn: "${retryOn}" }`))).toEqual([]);
  });

  test.each([
    ['UNAVAILABLE', 'the gRPC names are lower case, with dashes'],
    ['resource_exhausted', 'dashes, not underscores'],
    ['600', 'not an HTTP status code'],
    ['5xx;reset', 'a comma separates conditions'],
  ])('"%s" is unknown (%s): MAST0115', (retryOn) => {
    expect(findings('VirtualService', route(`retries: { attempts: 2, retryOn: "${retryOn}" }`))).toEqual([
      ['MAST0115', 'spec.http[0].retries.retryOn'],
    ]);
  });

  test('each unknown condition is its own finding, naming it', () => {
    const all = validate(
      loadYaml(
        `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: x, namespace: default }\nspec: ${route('retries: { attempts: 2, retryOn: "unavailable,bogus,5xx,nope" }')}\n`,
      ).objects,
      { scope: 'resource' },
    ).filter((f) => f.code === 'MAST0115');
    expect(all.map((f) => f.message.split(' ')[0])).toEqual(['"bogus"', '"nope"']);
    expect(all[0]).toMatchObject({ kind: 'VirtualService', namespace: 'default', name: 'x', severity: 'Error' });
  });
});

describe('fault.abort', () => {
  test.each(['OK', 'CANCELLED', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'])('grpcStatus %s', (name) => {
    expect(findings('VirtualService', route(`fault: { abort: { grpcStatus: ${name}, percentage: { value: 10 } } }`))).toEqual([]);
  });

  test.each([
    ['unavailable', 'MAST0116', 'spec.http[0].fault.abort.grpcStatus'],
    ['14', 'MAST0116', 'spec.http[0].fault.abort.grpcStatus'],
    ['NOT-A-CODE', 'MAST0116', 'spec.http[0].fault.abort.grpcStatus'],
  ])('grpcStatus %s: %s', (name, code, path) => {
    expect(findings('VirtualService', route(`fault: { abort: { grpcStatus: "${name}" } }`))).toEqual([[code, path]]);
  });

  test('httpStatus and grpcStatus together: MAST0117; http2Error: MAST0118', () => {
    expect(findings('VirtualService', route('fault: { abort: { httpStatus: 503, grpcStatus: UNAVAILABLE } }'))).toEqual([
      ['MAST0117', 'spec.http[0].fault.abort'],
    ]);
    expect(findings('VirtualService', route('fault: { abort: { http2Error: CANCEL } }'))).toEqual([
      ['MAST0118', 'spec.http[0].fault.abort.http2Error'],
    ]);
  });
});

describe('DestinationRule connectionPool.http', () => {
  test.each([
    '{ h2UpgradePolicy: UPGRADE, http2MaxRequests: 1000, maxConcurrentStreams: 100, maxRequestsPerConnection: 10 }',
    '{ h2UpgradePolicy: DO_NOT_UPGRADE, useClientProtocol: true }',
    '{ h2UpgradePolicy: DEFAULT }',
  ])('%s', (http) => {
    expect(findings('DestinationRule', pool(http))).toEqual([]);
  });

  test.each([
    ['{ h2UpgradePolicy: upgrade }', 'MAST0004', 'spec.trafficPolicy.connectionPool.http.h2UpgradePolicy'],
    ['{ h2UpgradePolicy: ALWAYS }', 'MAST0004', 'spec.trafficPolicy.connectionPool.http.h2UpgradePolicy'],
    ['{ http2MaxRequests: -1 }', 'MAST0005', 'spec.trafficPolicy.connectionPool.http.http2MaxRequests'],
    ['{ maxConcurrentStreams: -5 }', 'MAST0005', 'spec.trafficPolicy.connectionPool.http.maxConcurrentStreams'],
    ['{ maxConcurrentStreams: 0 }', 'MAST0120', 'spec.trafficPolicy.connectionPool.http.maxConcurrentStreams'],
    ['{ http2MaxRequests: 0 }', 'MAST0120', 'spec.trafficPolicy.connectionPool.http.http2MaxRequests'],
    ['{ useClientProtocol: true, h2UpgradePolicy: UPGRADE }', 'MAST0119', 'spec.trafficPolicy.connectionPool.http.useClientProtocol'],
    ['{ useClientProtocol: "yes" }', 'MAST0002', 'spec.trafficPolicy.connectionPool.http.useClientProtocol'],
  ])('%s: %s', (http, code, path) => {
    expect(findings('DestinationRule', pool(http))).toEqual([[code, path]]);
  });
});
