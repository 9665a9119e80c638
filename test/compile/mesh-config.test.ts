/** Istio's mesh config (`istio` ConfigMap, key `mesh`) reaches the compiled ProxyConfig: pathNormalization. */
import { buildIndex, compile, makeSnapshot } from '../../runtime/compile';
import { readGatewayTopology } from '../../runtime/compile/mesh-config';
import { gatewayTopologyFlags } from '../../api';
import { localMesh } from '../fixtures/local-mesh';

const GATEWAY = { mode: 'gateway' as const, namespace: 'mast-system', labels: { istio: 'ingressgateway' }, portMap: { 80: 8080 } };
const SIDECAR = { mode: 'sidecar' as const, namespace: 'default', labels: { app: 'productpage' }, outboundPort: 15001 };
const meshConfigMap = (namespace: string, mesh: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'istio', namespace },
  data: { mesh },
});
const objects = localMesh({ reviewsV1: 19001, reviewsV2: 19002, details: 19003 });

describe('mesh config: pathNormalization', () => {
  test('absent: BASE, and the ProxyConfig names none (Istio default)', () => {
    const config = compile(buildIndex(makeSnapshot(objects, 'v1')), GATEWAY);
    expect(config.pathNormalization).toBeUndefined();
  });

  test.each(['NONE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'])('%s in the istio ConfigMap reaches gateways and sidecars', (mode) => {
    for (const ns of ['istio-system', 'mast-system']) {
      const index = buildIndex(makeSnapshot([...objects, meshConfigMap(ns, `pathNormalization:\n  normalization: ${mode}\n`)], 'v1'));
      expect(compile(index, GATEWAY).pathNormalization).toBe(mode);
      expect(compile(index, SIDECAR).pathNormalization).toBe(mode);
    }
  });

  test.each([
    ['DEFAULT', 'pathNormalization:\n  normalization: DEFAULT\n'],
    ['BASE', 'pathNormalization:\n  normalization: BASE\n'],
    ['an unknown value', 'pathNormalization:\n  normalization: SOMETHING\n'],
    ['broken YAML', 'pathNormalization: [\n'],
    ['another ConfigMap namespace', ''],
  ])('%s: BASE', (_what, mesh) => {
    const cm = mesh ? meshConfigMap('istio-system', mesh) : meshConfigMap('default', 'pathNormalization:\n  normalization: NONE\n');
    expect(compile(buildIndex(makeSnapshot([...objects, cm], 'v1')), GATEWAY).pathNormalization).toBeUndefined();
  });
});

describe('mesh config: defaultConfig.gatewayTopology (the gateways start with it as flags)', () => {
  const topology = (mesh: string) => readGatewayTopology([...objects, meshConfigMap('istio-system', mesh)]);
  const flags = (mesh: string) => gatewayTopologyFlags(topology(mesh));

  test('a whole number of trusted proxies is taken as written', () => {
    expect(topology('defaultConfig:\n  gatewayTopology:\n    numTrustedProxies: 1\n')).toEqual({ numTrustedProxies: 1 });
    expect(flags('defaultConfig:\n  gatewayTopology:\n    numTrustedProxies: 3\n')).toEqual(['--trusted-hops', '3']);
  });

  test.each([
    ['absent', 'defaultConfig: {}\n'],
    ['negative', 'defaultConfig:\n  gatewayTopology:\n    numTrustedProxies: -1\n'],
    ['not whole', 'defaultConfig:\n  gatewayTopology:\n    numTrustedProxies: 1.5\n'],
    ['a string', 'defaultConfig:\n  gatewayTopology:\n    numTrustedProxies: "1"\n'],
  ])('numTrustedProxies %s: none (the peer is the client)', (_what, mesh) => expect(flags(mesh)).toEqual([]));

  test("proxyProtocol {} and forwardClientCertDetails become the gateway's --proxy-protocol and --forward-client-cert", () => {
    expect(flags('defaultConfig:\n  gatewayTopology:\n    proxyProtocol: {}\n    forwardClientCertDetails: APPEND_FORWARD\n')).toEqual([
      '--proxy-protocol',
      '--forward-client-cert',
      'APPEND_FORWARD',
    ]);
    // Values the mesh config's validation refuses leave Istio's defaults.
    expect(flags('defaultConfig:\n  gatewayTopology:\n    proxyProtocol: true\n    forwardClientCertDetails: UNDEFINED\n')).toEqual([]);
  });
});

describe('mesh config: meshMTLS.minProtocolVersion', () => {
  test('TLSV1_3 reaches gateways and sidecars; TLS_AUTO, TLSV1_2 or none leave Istio’s TLS 1.2 (the config names none)', () => {
    const index = (mesh: string) => buildIndex(makeSnapshot([...objects, meshConfigMap('istio-system', mesh)], 'v1'));
    const tls13 = index('meshMTLS:\n  minProtocolVersion: TLSV1_3\n');
    expect(compile(tls13, SIDECAR).meshTlsMinVersion).toBe('TLSv1.3');
    expect(compile(tls13, GATEWAY).meshTlsMinVersion).toBe('TLSv1.3');
    for (const mesh of ['meshMTLS:\n  minProtocolVersion: TLS_AUTO\n', 'meshMTLS:\n  minProtocolVersion: TLSV1_2\n', ''])
      expect(compile(index(mesh), SIDECAR).meshTlsMinVersion).toBeUndefined();
  });
});
