import type { KubeObject } from '../../../api';
import { LocalGateway } from '../../../runtime/local/gateway';

const egress = () =>
  new LocalGateway(
    { name: 'istio-egressgateway', labels: { istio: 'egressgateway', app: 'istio-egressgateway' }, process: 'egress gateway' },
    () => {},
  );
const gateway = (selector: Record<string, string>, ports: number[]) =>
  ({
    apiVersion: 'networking.istio.io/v1',
    kind: 'Gateway',
    metadata: { name: 'g', namespace: 'default' },
    spec: { selector, servers: ports.map((number) => ({ port: { number, name: `p${number}`, protocol: 'HTTP' }, hosts: ['*'] })) },
  }) as unknown as KubeObject;

describe("mast local's egress gateway as a Service", () => {
  test('the Gateways that select it are its servers; others are not', () => {
    const objects = [gateway({ istio: 'egressgateway' }, [80]), gateway({ istio: 'ingressgateway' }, [8080])];
    expect(
      egress()
        .servers(objects)
        .map((s) => s.port.number),
    ).toEqual([80]);
  });

  test("Istio's ports 80 (http2) and 443 (https) and its Gateways' others; an endpoint on this machine for each port it serves", () => {
    const gw = egress();
    gw.ports = { 80: 20001, 8443: 20002 };
    const [service, slice] = gw.serviceObjects([gateway({ istio: 'egressgateway' }, [80, 8443])]) as any[];
    expect(service.metadata).toMatchObject({ name: 'istio-egressgateway', namespace: 'mast-system' });
    expect(service.spec.ports.map((p: any) => [p.name, p.port])).toEqual([
      ['http2', 80],
      ['https', 443],
      ['tcp-8443', 8443],
    ]);
    expect(slice.metadata.labels['kubernetes.io/service-name']).toBe('istio-egressgateway');
    // 443 has no Gateway server: no endpoint port for it (a request there gets 503, as a gateway not listening).
    expect(slice.ports.map((p: any) => [p.name, p.port])).toEqual([
      ['http2', 20001],
      ['tcp-8443', 20002],
    ]);
    expect(slice.endpoints).toEqual([
      {
        addresses: ['127.0.0.1'],
        conditions: { ready: true },
        targetRef: { kind: 'Pod', name: 'istio-egressgateway', namespace: 'mast-system' },
      },
    ]);
  });

  test('no Gateway yet: the Service, and no endpoint', () => {
    const [, slice] = egress().serviceObjects([]) as any[];
    expect(slice.endpoints).toEqual([]);
  });
});
