/**
 * The `bookinfo.Ratings` gRPC service: its definition (JSON messages, so no .proto file and no
 * code generation), and the server side ratings runs. `Get` is unary; `Watch` streams a few
 * ratings updates, for demos of server streaming. The demo knobs of the HTTP app apply here too,
 * read from the call's metadata: `x-bookinfo-fail: ratings[=<http status>]` answers with the gRPC
 * status that HTTP status maps to (gRPC's HTTP-to-gRPC table: 503 is UNAVAILABLE), and
 * `x-bookinfo-delay: ratings=<ms>` waits first.
 */
import * as grpc from '@grpc/grpc-js';

/** The full gRPC service name (the `:path` of a call is `/bookinfo.Ratings/<method>`). */
export const RATINGS_SERVICE = 'bookinfo.Ratings';

export interface GetRequest {
  /** The product whose ratings are asked for. @default 0 */
  readonly productId?: number;
  /** The path of the page being built, echoed back as the HTTP app echoes its path. */
  readonly path?: string;
}

export interface RatingsReply {
  readonly service: string;
  readonly version: string;
  readonly productId: number;
  readonly path?: string;
  /** Stars by reviewer, as Istio's bookinfo ratings answer. */
  readonly stars: Record<string, number>;
}

export interface WatchRequest {
  /** How many updates to stream (1-100). @default 3 */
  readonly count?: number;
  /** Pause between updates, in ms (0-1000). @default 0 */
  readonly intervalMs?: number;
}

export interface RatingsUpdate extends RatingsReply {
  /** 1, 2, ... up to `count`. */
  readonly seq: number;
}

const json = {
  serialize: (value: unknown): Buffer => Buffer.from(JSON.stringify(value)),
  deserialize: (bytes: Buffer): unknown => (bytes.length ? JSON.parse(bytes.toString('utf8')) : {}),
};

const method = (name: string, responseStream: boolean): grpc.MethodDefinition<unknown, unknown> => ({
  path: `/${RATINGS_SERVICE}/${name}`,
  requestStream: false,
  responseStream,
  requestSerialize: json.serialize,
  requestDeserialize: json.deserialize,
  responseSerialize: json.serialize,
  responseDeserialize: json.deserialize,
  originalName: name,
});

export const RATINGS_DEFINITION: grpc.ServiceDefinition = {
  Get: method('Get', false),
  Watch: method('Watch', true),
};

/** gRPC's mapping of an HTTP status to a gRPC code (doc/http-grpc-status-mapping.md in grpc/grpc). */
export function grpcCodeOfHttp(status: number): grpc.status {
  if (status === 400) return grpc.status.INTERNAL;
  if (status === 401) return grpc.status.UNAUTHENTICATED;
  if (status === 403) return grpc.status.PERMISSION_DENIED;
  if (status === 404) return grpc.status.UNIMPLEMENTED;
  if (status === 429 || status === 502 || status === 503 || status === 504) return grpc.status.UNAVAILABLE;
  return grpc.status.UNKNOWN;
}

/** The value a `service=value` list header gives this service (`x-bookinfo-fail: ratings=503`). */
export function knob(header: unknown, service: string): string | undefined {
  for (const item of String(header ?? '').split(',')) {
    const [name, value] = item.trim().split('=');
    if (name === service) return value ?? '';
  }
  return undefined;
}

const STARS: Record<string, number> = { Reviewer1: 5, Reviewer2: 4 };
const bounded = (value: unknown, min: number, max: number, fallback: number) => {
  const n = Number(value ?? fallback);
  return Number.isFinite(n) ? Math.min(max, Math.max(min, Math.trunc(n))) : fallback;
};
const first = (md: grpc.Metadata, key: string) => md.get(key)[0];

/** The knobs of a call: an error to answer with, after a delay (both from its metadata). */
async function misbehave(md: grpc.Metadata, service: string): Promise<Partial<grpc.StatusObject> | undefined> {
  const delay = Number(knob(first(md, 'x-bookinfo-delay'), service));
  if (delay > 0) await new Promise((r) => setTimeout(r, Math.min(delay, 30_000)));
  const fail = knob(first(md, 'x-bookinfo-fail'), service);
  if (fail === undefined) return undefined;
  const status = Number(fail) >= 400 && Number(fail) <= 599 ? Number(fail) : 503;
  return { code: grpcCodeOfHttp(status), details: `failing on request (x-bookinfo-fail, HTTP ${status})` };
}

/**
 * A gRPC server with `bookinfo.Ratings` and no listening socket of its own: the app hands it the
 * connections that start with the HTTP/2 preface (see serve.ts), so one port serves both protocols.
 */
export function ratingsServer(info: { service: string; version: string }): { server: grpc.Server; injector: grpc.ConnectionInjector } {
  const server = new grpc.Server();
  const reply = (productId: number, path?: string): RatingsReply => ({
    service: info.service,
    version: info.version,
    productId,
    ...(path !== undefined ? { path } : {}),
    stars: STARS,
  });
  server.addService(RATINGS_DEFINITION, {
    Get: (call: grpc.ServerUnaryCall<GetRequest, RatingsReply>, done: grpc.sendUnaryData<RatingsReply>) => {
      void misbehave(call.metadata, info.service).then((error) =>
        error ? done(error) : done(null, reply(bounded(call.request.productId, 0, 1e9, 0), call.request.path)),
      );
    },
    Watch: (call: grpc.ServerWritableStream<WatchRequest, RatingsUpdate>) => {
      void (async () => {
        const error = await misbehave(call.metadata, info.service);
        if (error) {
          // grpc-js turns a stream's 'error' into the call's status (destroy() would send none).
          call.emit('error', Object.assign(new Error(error.details), error));
          return;
        }
        const count = bounded(call.request.count, 1, 100, 3);
        const intervalMs = bounded(call.request.intervalMs, 0, 1000, 0);
        for (let seq = 1; seq <= count && !call.cancelled; seq++) {
          if (seq > 1 && intervalMs) await new Promise((r) => setTimeout(r, intervalMs));
          call.write({ ...reply(0), seq });
        }
        call.end();
      })();
    },
  });
  return { server, injector: server.createConnectionInjector(grpc.ServerCredentials.createInsecure()) };
}
