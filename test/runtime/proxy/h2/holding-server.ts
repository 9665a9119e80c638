/** An HTTP/2 upstream for pool and limit tests: it holds every stream until the test answers it. */
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';

export interface HoldingServer {
  readonly port: number;
  readonly sessions: Set<http2.ServerHttp2Session>;
  /** The streams received, in order. */
  readonly held: http2.ServerHttp2Stream[];
  /** Answers the `i`th stream received: 200 and the body `bodyOf` gives. */
  answer(i: number): void;
}

/**
 * A node:http2 server on loopback whose streams wait for `answer(i)`; the body of an answer is
 * `bodyOf(i, path)`. Its sessions are destroyed and the server closed by `stopAfter`.
 */
export async function holdingServer(
  stopAfter: (stop: () => Promise<void>) => void,
  bodyOf: (i: number, path: string) => string,
): Promise<HoldingServer> {
  const sessions = new Set<http2.ServerHttp2Session>();
  const held: http2.ServerHttp2Stream[] = [];
  const paths: string[] = [];
  const srv = http2.createServer();
  srv.on('session', (s) => sessions.add(s));
  srv.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    held.push(stream);
    paths.push(String(headers[':path']));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  stopAfter(async () => {
    sessions.forEach((s) => s.destroy());
    await new Promise((r) => srv.close(() => r(undefined)));
  });
  const answer = (i: number) => {
    held[i].respond({ ':status': 200 });
    held[i].end(bodyOf(i, paths[i]));
  };
  return { port: (srv.address() as AddressInfo).port, sessions, held, answer };
}
