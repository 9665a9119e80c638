/**
 * gRPC-Web through `mast local`, as a browser's grpc-web client calls it: an HTTP/1.1 POST of
 * `application/grpc-web-text` (base64) to the gateway, which relays it (its server is HTTP, so no
 * grpc_web filter there, as Istio), to ratings' sidecar, whose inbound translates it to gRPC because
 * a service declares the app's gRPC port GRPC-WEB (Istio's inbound listener of a grpc-web port);
 * the grpc-js ratings server answers, and the reply comes back base64 with its trailers frame.
 */
import * as http from 'node:http';
import { startExample, type Running } from './support';

/** A second service on ratings' gRPC port, declaring it GRPC-WEB (the port's name maps it to the app's port). */
const RATINGS_WEB = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: ratings-web
  namespace: default
spec:
  hosts:
    - ratings-web.default.svc.cluster.local
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
    - number: 9090
      name: grpc
      protocol: GRPC-WEB
  workloadSelector:
    labels:
      app: ratings
`;

let mesh: Running;
beforeAll(async () => {
  mesh = await startExample({ files: { 'mesh/ratings-web.yaml': RATINGS_WEB } });
}, 60_000);
afterAll(async () => {
  await mesh?.stop();
});

const frame = (m: unknown) => {
  const body = Buffer.from(JSON.stringify(m));
  const f = Buffer.alloc(5 + body.length);
  f.writeUInt32BE(body.length, 1);
  body.copy(f, 5);
  return f;
};

/** The frames of a -text reply: one base64 encoding per frame. */
function frames(text: string): Array<{ flag: number; payload: string }> {
  const bytes = Buffer.concat((text.match(/[^=]+=*/g) ?? []).map((p) => Buffer.from(p, 'base64')));
  const out: Array<{ flag: number; payload: string }> = [];
  for (let at = 0; at + 5 <= bytes.length; at += 5 + bytes.readUInt32BE(at + 1))
    out.push({ flag: bytes[at], payload: bytes.subarray(at + 5, at + 5 + bytes.readUInt32BE(at + 1)).toString() });
  return out;
}

function webCall(path: string, message: unknown): Promise<{ status: number; type?: string; grpcStatus?: string; body: string }> {
  const body = frame(message).toString('base64');
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: mesh.port,
        path,
        method: 'POST',
        headers: {
          host: 'alpha.example.com',
          'content-type': 'application/grpc-web-text',
          accept: 'application/grpc-web-text',
          'x-grpc-web': '1',
          'x-user-agent': 'grpc-web-javascript/0.1',
          'content-length': body.length,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('latin1');
        res.on('data', (c: string) => (text += c));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            type: res.headers['content-type'],
            grpcStatus: res.headers['grpc-status'] as string,
            body: text,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test("a grpc-web-text unary call through the gateway and ratings' sidecar reaches the grpc-js server; reply and grpc-status 0 come back", async () => {
  const r = await webCall('/bookinfo.Ratings/Get', { productId: 7, path: '/web' });
  expect(r.status).toBe(200);
  expect(r.type).toBe('application/grpc-web-text+proto');
  const [message, trailers] = frames(r.body);
  expect(message.flag).toBe(0);
  expect(JSON.parse(message.payload)).toMatchObject({ service: 'ratings', productId: 7, path: '/web' });
  expect(trailers.flag).toBe(0x80);
  expect(trailers.payload).toMatch(/^grpc-status:0\r\n/m);
});

test('a method the server does not have: UNIMPLEMENTED in the trailers-only head, as gRPC-Web headers', async () => {
  const r = await webCall('/bookinfo.Ratings/Nope', {});
  expect(r.status).toBe(200);
  expect(r.type).toBe('application/grpc-web-text+proto');
  expect(r.grpcStatus).toBe('12');
  expect(frames(r.body)).toEqual([]);
});
