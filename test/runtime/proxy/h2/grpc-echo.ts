/**
 * A gRPC service for the HTTP/2 tests, defined without proto files (JSON messages): unary,
 * server-streaming, client-streaming and bidirectional methods, a server that counts its calls
 * and can be told to fail, and clients that reach it straight or through a proxy.
 */
import * as grpc from '@grpc/grpc-js';

const json = {
  serialize: (o: unknown) => Buffer.from(JSON.stringify(o)),
  deserialize: (b: Buffer) => JSON.parse(b.toString()),
};
const method = (name: string, requestStream: boolean, responseStream: boolean) => ({
  path: `/echo.Echo/${name}`,
  requestStream,
  responseStream,
  requestSerialize: json.serialize,
  requestDeserialize: json.deserialize,
  responseSerialize: json.serialize,
  responseDeserialize: json.deserialize,
});

export const ECHO = {
  unary: method('Unary', false, false),
  serverStream: method('ServerStream', false, true),
  clientStream: method('ClientStream', true, false),
  bidi: method('Bidi', true, true),
};

export type Msg = { text: string; n?: number };
export const EchoClient = grpc.makeGenericClientConstructor(ECHO, 'Echo');

export interface EchoServer {
  readonly port: number;
  /** Calls received, by method name. */
  readonly calls: Record<string, number>;
  /** Metadata of the last call. */
  lastMetadata?: grpc.Metadata;
  /** The next `n` unary calls fail with this status. */
  failNext(n: number, code: grpc.status): void;
  close(): Promise<void>;
}

export async function echoServer(name = 'echo'): Promise<EchoServer> {
  const server = new grpc.Server();
  const calls: Record<string, number> = {};
  let failures = 0;
  let failCode = grpc.status.UNAVAILABLE;
  const s: Partial<EchoServer> = { calls };
  const count = (m: string, md: grpc.Metadata) => {
    calls[m] = (calls[m] ?? 0) + 1;
    s.lastMetadata = md;
  };
  server.addService(ECHO, {
    unary: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      count('unary', call.metadata);
      if (failures > 0) {
        failures--;
        return cb({ code: failCode, details: 'told to fail' });
      }
      const trailer = new grpc.Metadata();
      trailer.set('x-served-by', name);
      const delay = Number(call.request.n ?? 0);
      setTimeout(() => cb(null, { text: `${name}:${call.request.text}` }, trailer), delay);
    },
    serverStream: (call: grpc.ServerWritableStream<Msg, Msg>) => {
      count('serverStream', call.metadata);
      for (let i = 0; i < (call.request.n ?? 3); i++) call.write({ text: `${call.request.text}#${i}`, n: i });
      call.end();
    },
    clientStream: (call: grpc.ServerReadableStream<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      count('clientStream', call.metadata);
      const got: string[] = [];
      call.on('data', (m: Msg) => got.push(m.text));
      call.on('end', () => cb(null, { text: got.join(','), n: got.length }));
    },
    bidi: (call: grpc.ServerDuplexStream<Msg, Msg>) => {
      count('bidi', call.metadata);
      call.on('data', (m: Msg) => call.write({ text: `re:${m.text}` }));
      call.on('end', () => call.end());
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return Object.assign(s, {
    port,
    failNext(n: number, code: grpc.status) {
      failures = n;
      failCode = code;
    },
    close: async () => server.forceShutdown(),
  }) as EchoServer;
}

/** A client of the echo service at `port`, naming `authority` (the proxy routes on it). */
export function echoClient(port: number, authority = 'alpha.example.com', credentials = grpc.credentials.createInsecure()) {
  return new EchoClient(`127.0.0.1:${port}`, credentials, { 'grpc.default_authority': authority }) as unknown as EchoApi;
}

/** The client's methods, typed for the tests. */
export interface EchoApi extends grpc.Client {
  unary(m: Msg, md: grpc.Metadata, o: grpc.CallOptions, cb: (err: grpc.ServiceError | null, r?: Msg) => void): grpc.ClientUnaryCall;
  serverStream(m: Msg): grpc.ClientReadableStream<Msg>;
  clientStream(cb: (err: grpc.ServiceError | null, r?: Msg) => void): grpc.ClientWritableStream<Msg>;
  bidi(): grpc.ClientDuplexStream<Msg, Msg>;
}

/** A unary call: its reply, or its error (status code and details), and the trailers it ended with. */
export function unary(
  c: EchoApi,
  m: Msg,
  o: grpc.CallOptions = {},
): Promise<{ reply?: Msg; code: grpc.status; details?: string; trailers?: grpc.Metadata }> {
  return new Promise((resolve) => {
    let trailers: grpc.Metadata | undefined;
    const call = c.unary(m, new grpc.Metadata(), o, (err, reply) =>
      setImmediate(() => resolve({ reply, code: err ? err.code : grpc.status.OK, details: err?.details, trailers })),
    );
    call.on('status', (s: grpc.StatusObject) => (trailers = s.metadata));
  });
}

/** All the messages of a server stream. */
export function collect<T>(stream: NodeJS.ReadableStream): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const out: T[] = [];
    stream.on('data', (m: T) => out.push(m));
    stream.on('end', () => resolve(out));
    stream.on('error', reject);
  });
}
