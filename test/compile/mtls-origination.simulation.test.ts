/**
 * Mutual TLS origination with a DestinationRule `credentialName`, compiled as Istio applies it: at a
 * gateway always (the egress gateway task's rule, in istio-system, without workloadSelector); at a
 * sidecar only when the rule has a workloadSelector that selects it (the sidecar task's), the
 * others keeping the rule's files. The proxy then reads the Secret of that name from its mounted
 * credentials (runtime/proxy/gateway-tls.ts).
 */
import { buildIndex, compile, equivalenceKey } from '../../runtime/compile';
import { CompileCache } from '../../runtime/compile/compile-cache';
import type { ProxyIdentity } from '../../runtime/contract/push-protocol';
import { makeSnapshot } from '../../runtime/compile';
import { compileMesh, meshOf, sidecar } from './simulation';
import { NGINX_HOST, nginxServiceEntry, nginxThroughEgressGateway, originateMtls } from '../e2e/istio-tasks/nginx-mtls-mesh';

const EGRESS_GATEWAY: ProxyIdentity = {
  mode: 'gateway',
  namespace: 'mast-system',
  labels: { istio: 'egressgateway', app: 'istio-egressgateway' },
};
const ENDPOINT = { address: '10.9.0.7', port: 443 };
const SLEEP = sidecar('default', { app: 'sleep' });
const OTHER = sidecar('default', { app: 'other' });

const GATEWAY_MESH = [
  nginxServiceEntry(ENDPOINT),
  nginxThroughEgressGateway(),
  originateMtls({ namespace: 'istio-system', port: 443 }),
].join('---\n');
const SIDECAR_MESH = [
  nginxServiceEntry(ENDPOINT, true),
  originateMtls({ namespace: 'default', port: 80, selector: { app: 'sleep' } }),
].join('---\n');

const clusterOf = (yaml: string, proxy: ProxyIdentity, name: string) => compileMesh(yaml, proxy).clusters.find((c) => c.name === name);

describe('at the egress gateway (no workloadSelector)', () => {
  test('the cluster to my-nginx:443 originates MUTUAL TLS with the credentialName, the SNI of the rule', () => {
    expect(clusterOf(GATEWAY_MESH, EGRESS_GATEWAY, `outbound|443||${NGINX_HOST}`)?.originate).toEqual({
      mode: 'MUTUAL',
      sni: NGINX_HOST,
      credentialName: 'client-credential',
    });
  });

  test('a sidecar keeps the files (here none: MUTUAL without a client certificate), as Istio documents', () => {
    expect(clusterOf(GATEWAY_MESH, SLEEP, `outbound|443||${NGINX_HOST}`)?.originate).toEqual({ mode: 'MUTUAL', sni: NGINX_HOST });
  });

  test('files and credentialName both given: the credential alone at the gateway (its certificate and CA), the files at a sidecar', () => {
    const both = GATEWAY_MESH.replace(
      'credentialName: client-credential,',
      'credentialName: client-credential, clientCertificate: /etc/c.pem, privateKey: /etc/k.pem, caCertificates: /etc/ca.pem,',
    );
    expect(clusterOf(both, EGRESS_GATEWAY, `outbound|443||${NGINX_HOST}`)?.originate).toEqual({
      mode: 'MUTUAL',
      sni: NGINX_HOST,
      credentialName: 'client-credential',
    });
    expect(clusterOf(both, SLEEP, `outbound|443||${NGINX_HOST}`)?.originate).toEqual({
      mode: 'MUTUAL',
      sni: NGINX_HOST,
      clientCertificate: '/etc/c.pem',
      privateKey: '/etc/k.pem',
      caCertificates: '/etc/ca.pem',
    });
  });
});

test("one compile cache for the egress gateway, sleep and another workload: each gets its own cluster, none another's", () => {
  for (const [yaml, port] of [
    [GATEWAY_MESH, 443],
    [SIDECAR_MESH, 80],
  ] as const) {
    const index = buildIndex(makeSnapshot(meshOf(yaml), 'v1'));
    const name = `outbound|${port}||${NGINX_HOST}`;
    const inOrder = (proxies: ProxyIdentity[]) => {
      const cache = new CompileCache(index);
      return proxies.map((proxy) => compile(index, proxy, cache).clusters.find((c) => c.name === name)?.originate);
    };
    const [gateway, sleep, other] = inOrder([EGRESS_GATEWAY, SLEEP, OTHER]);
    // Whoever is compiled first, the others get their own answers from the shared cache.
    expect(inOrder([OTHER, SLEEP, EGRESS_GATEWAY])).toEqual([other, sleep, gateway]);
    expect(inOrder([SLEEP, EGRESS_GATEWAY, OTHER])).toEqual([sleep, gateway, other]);
    if (port === 443) {
      expect(gateway?.credentialName).toBe('client-credential');
      expect(sleep?.credentialName).toBeUndefined();
    } else {
      expect(sleep?.credentialName).toBe('client-credential');
      expect(other).toBeUndefined();
    }
  }
});

describe('at a sidecar the rule selects (workloadSelector)', () => {
  test('sleep originates MUTUAL TLS on port 80 with the credentialName; another workload of the namespace does not originate', () => {
    expect(clusterOf(SIDECAR_MESH, SLEEP, `outbound|80||${NGINX_HOST}`)?.originate).toEqual({
      mode: 'MUTUAL',
      sni: NGINX_HOST,
      credentialName: 'client-credential',
    });
    expect(clusterOf(SIDECAR_MESH, OTHER, `outbound|80||${NGINX_HOST}`)?.originate).toBeUndefined();
  });

  test('port 80 goes to the endpoint on 443 (the ServiceEntry targetPort)', () => {
    expect(clusterOf(SIDECAR_MESH, SLEEP, `outbound|80||${NGINX_HOST}`)?.endpoints).toEqual([
      expect.objectContaining({ address: ENDPOINT.address, port: 443 }),
    ]);
  });

  test('a workload of another namespace with the same labels is not selected (workload selectors stay in their namespace)', () => {
    expect(clusterOf(SIDECAR_MESH, sidecar('elsewhere', { app: 'sleep' }), `outbound|80||${NGINX_HOST}`)?.originate).toBeUndefined();
  });

  test('the selected workload and the others do not share a config (equivalence keys differ)', () => {
    const index = buildIndex(makeSnapshot(meshOf(SIDECAR_MESH), 'v1'));
    expect(equivalenceKey(index, SLEEP)).not.toBe(equivalenceKey(index, OTHER));
  });
});
