/** A Kubernetes Service port's protocol, as Istio's ConvertProtocol reads it (api/protocol.ts). */
import { isHttp2Protocol, kubernetesPortProtocol, parseAppProtocol } from '../../api';

test.each([
  [{ number: 80, name: 'http' }, 'HTTP'],
  [{ number: 80, name: 'http-web', protocol: 'TCP' }, 'HTTP'],
  [{ number: 80, name: 'HTTP2-api' }, 'HTTP2'],
  [{ number: 80, name: 'grpc' }, 'GRPC'],
  [{ number: 80, name: 'grpc-orders' }, 'GRPC'],
  [{ number: 80, name: 'grpc-web' }, 'GRPC-WEB'],
  [{ number: 80, name: 'GRPC-Web-ui' }, 'GRPC-WEB'],
  [{ number: 80, name: 'grpcweb' }, undefined],
  [{ number: 80, name: 'tcp-db' }, 'TCP'],
  [{ number: 80, name: 'https' }, 'HTTPS'],
  [{ number: 80, name: 'mongo' }, 'MONGO'],
  [{ number: 80, name: 'web' }, undefined],
  [{ number: 80 }, undefined],
  [{ number: 3306 }, 'TCP'],
  [{ number: 27017, name: 'db' }, 'TCP'],
  [{ number: 53, name: 'http' }, 'HTTP'],
  [{ number: 80, name: 'grpc', protocol: 'UDP' }, 'UDP'],
  [{ number: 80, name: 'http', appProtocol: 'grpc' }, 'GRPC'],
  [{ number: 80, name: 'grpc', appProtocol: 'http' }, 'HTTP'],
  [{ number: 80, name: 'tcp', appProtocol: 'kubernetes.io/h2c' }, 'HTTP2'],
  [{ number: 80, appProtocol: 'kubernetes.io/ws' }, 'HTTP'],
  [{ number: 80, appProtocol: 'kubernetes.io/wss' }, 'HTTPS'],
  [{ number: 80, name: 'http', appProtocol: 'example.com/custom' }, undefined],
])('%j is %s', (port, expected) => {
  expect(kubernetesPortProtocol(port)).toBe(expected);
});

test('names parse in any case; HTTP/2 upstream for HTTP2, GRPC and GRPC-WEB only', () => {
  expect(['grpc', 'Http2', 'GRPC-web', 'http', 'TLS', 'nope'].map(parseAppProtocol)).toEqual([
    'GRPC',
    'HTTP2',
    'GRPC-WEB',
    'HTTP',
    'TLS',
    undefined,
  ]);
  expect(['HTTP2', 'GRPC', 'GRPC-WEB', 'HTTP', 'HTTPS', 'TCP', undefined].map(isHttp2Protocol)).toEqual([
    true,
    true,
    true,
    false,
    false,
    false,
    false,
  ]);
});
