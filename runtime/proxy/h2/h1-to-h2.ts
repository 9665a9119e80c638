/**
 * An HTTP/1.1 client's request to an HTTP/2 cluster (`upstreamProtocol: h2`: a gRPC or HTTP2 port,
 * or DestinationRule `h2UpgradePolicy: UPGRADE`): the tries go over pooled HTTP/2 streams
 * (upstream-h2.ts), retried as the route says, and the response goes back as HTTP/1.1 bytes —
 * its length as the server gave it, else chunked, with the server's trailers as chunked trailers.
 * A gRPC-Web call comes here whatever its cluster speaks: translated to gRPC as Envoy's grpc_web
 * filter does, it goes to an HTTP/1.1 cluster as gRPC over HTTP/1.1 (upstream-h1.ts), as Envoy's
 * router sends it. The exchange (request/exchange.ts) keeps authorization, routing, the route's
 * timeout and the record; this is its upstream half.
 */
import type { Client } from '../request/context';
import { corsResponseHeaders } from '../request/cors';
import type { GeneratedCookie } from '../request/hash-key';
import type { Flag } from '../request/record';
import { ReplayBuffer } from '../request/replay-buffer';
import type { Failure } from '../request/retry';
import type { ForwardPlan } from '../request/route';
import type { Cluster, Endpoint } from '../upstream/cluster';
import type { ListenerConfig } from '../../contract/proxy-config';
import { grpcStatusOf } from './grpc';
import { downstreamResponse, pairsOfHead, upstreamRequest, type HeaderList, type UpstreamRequest } from './headers';
import { Dechunker } from './dechunk';
import { Base64Body, type GrpcWebCall, GrpcWebBodyError, grpcWebRequestHeaders, GrpcWebResponse, type WebHead } from './grpc-web';
import { RESET, Tries, type TriesOwner } from './tries';
import { H1Try } from './upstream-h1';
import { H2Try } from './upstream-h2';
import type { TryOwner, UpstreamTry } from './upstream-try';
import type { TraceContext } from '../tracing/propagation';

/** What the bridge reads of, and reports to, its exchange. */
export interface BridgeOwner {
  readonly done: boolean;
  readonly requestId: string;
  readonly authority: string;
  readonly listener?: ListenerConfig;
  readonly ownProto: boolean;
  readonly draining: boolean;
  readonly trace?: TraceContext;
  /** A gRPC-Web call to translate (grpc-web.ts). */
  readonly web?: GrpcWebCall;
  generatedCookie?: GeneratedCookie;
  /** A local reply (nothing was sent to the client yet). */
  bridgeReply(status: number, flag: Flag | '', body: string): void;
  /** The response head went to the client with this status. */
  bridgeCommitted(status: number, grpcStatus?: number): void;
  bridgeFlag(flag: Flag): void;
  /** The response is over: the client connection goes on when `keepAlive`. */
  bridgeEnded(keepAlive: boolean, bytesOut: number, upstream: string): void;
  /** Broken off mid-response: the client connection is closed. */
  bridgeAborted(flag: Flag): void;
}

const grpcOf = (list: HeaderList) => {
  for (const [n, v] of list) if (n === 'grpc-status') return grpcStatusOf({ 'grpc-status': v });
  return undefined;
};

const payload = (parts: Buffer[]): Buffer => (parts.length === 1 ? parts[0] : Buffer.concat(parts));

export class Http1ToH2 implements TryOwner, TriesOwner {
  private readonly tries: Tries;
  private readonly upstream: UpstreamRequest;
  /** The request body: held until a try is ready, kept for a retry while it fits. */
  private readonly replay: ReplayBuffer;
  /** A chunked request body's framing taken off: HTTP/2 frames the body itself. */
  private readonly dechunk?: Dechunker;
  committed = false;
  private chunked = false;
  private keepAlive = false;
  private bytesOut = 0;
  private trailersOut?: HeaderList;
  /** gRPC-Web: the `-text` body decoder and the response encoder. */
  private readonly webBody?: Base64Body;
  private readonly webResponse?: GrpcWebResponse;

  constructor(
    private readonly cluster: Cluster,
    private readonly x: BridgeOwner,
    private readonly client: Client,
    private readonly plan: ForwardPlan,
  ) {
    this.replay = new ReplayBuffer(!client.bodyPending);
    if (client.head.chunked) this.dechunk = new Dechunker();
    const te = client.header('te');
    const pairs = pairsOfHead(client.head.headers);
    const teTrailers = te?.includes('trailers') === true || x.web !== undefined;
    if (x.web) {
      if (x.web.textRequest) this.webBody = new Base64Body();
      this.webResponse = new GrpcWebResponse(x.web.textResponse);
    }
    this.upstream = upstreamRequest(client, x.authority, x.web ? grpcWebRequestHeaders(pairs) : pairs, teTrailers, {
      route: plan.route,
      destination: plan.destination,
      requestId: x.requestId,
      listener: x.listener,
      ownProto: x.ownProto,
      trace: x.trace,
    });
    this.tries = new Tries(cluster, plan.action.retries, this.replay, client, this);
  }

  start(): void {
    this.tries.next();
  }

  // ---- for the tries (tries.ts) ----

  get done(): boolean {
    return this.x.done;
  }

  get generatedCookie(): GeneratedCookie | undefined {
    return this.x.generatedCookie;
  }

  set generatedCookie(c: GeneratedCookie | undefined) {
    this.x.generatedCookie = c;
  }

  createTry(endpoint: Endpoint): UpstreamTry {
    const cluster = this.cluster;
    const hasBody = this.replay.hasBody || this.client.requestTrailers !== undefined;
    if (cluster.protocolFor(this.client.originalPort) === 'h2') return new H2Try(cluster, endpoint, this, this.upstream, hasBody);
    // A gRPC-Web call to an HTTP/1.1 cluster: its body chunked (a -text body's decoded length is not the client's).
    return new H1Try(cluster, endpoint, this, this.upstream, hasBody, undefined, (flag) =>
      this.x.bridgeReply(503, flag, flag === 'UO' ? `${RESET} overflow\n` : 'no healthy upstream\n'),
    );
  }

  reply(status: number, flag: Flag, body: string): void {
    this.x.bridgeReply(status, flag, body);
  }

  abort(flag: Flag): void {
    this.x.bridgeAborted(flag);
  }

  flag(flag: Flag): void {
    this.x.bridgeFlag(flag);
  }

  // ---- the request body, from the client connection ----

  body(framed: Buffer, last: boolean): void {
    const plain = this.dechunk ? payload(this.dechunk.take(framed)) : framed;
    const chunk = this.webBody ? this.decodeWeb(plain, last) : plain;
    if (!chunk) return;
    const t = this.tries.ready ? this.tries.current : undefined;
    if (this.replay.add(chunk, last, t !== undefined)) this.client.pauseReading();
    if (!t) return;
    if (chunk.length && !t.write(chunk)) this.client.pauseReading();
    if (last) t.endBody(this.client.requestTrailers);
  }

  /** A `-text` body's bytes; undefined once it proved not base64 (a 400, as Envoy's filter answers). */
  private decodeWeb(text: Buffer, last: boolean): Buffer | undefined {
    try {
      const out = this.webBody!.take(text);
      if (last) this.webBody!.end();
      return out;
    } catch (err) {
      if (!(err instanceof GrpcWebBodyError)) throw err;
      this.tries.drop();
      if (this.committed) this.x.bridgeAborted('DC');
      else this.x.bridgeReply(400, '', err.message);
      return undefined;
    }
  }

  ready(): void {
    const t = this.tries.current!;
    this.tries.ready = true;
    for (const c of this.replay.replay()) t.write(c);
    t.onDrain = () => this.client.resumeReading();
    this.client.resumeReading();
    if (this.replay.done) t.endBody(this.client.requestTrailers);
  }

  /** The client's socket drained: the stream reads again. */
  resume(): void {
    this.tries.current?.resume();
  }

  // ---- from the try ----

  head(status: number, headers: HeaderList, end: boolean): boolean {
    if (this.x.done) return false;
    const grpc = end ? grpcOf(headers) : undefined;
    if (this.tries.answered(status, grpc)) return false;
    this.committed = true;
    let web: WebHead | undefined = { status, headers };
    // gRPC-Web: a response that is not gRPC waits for its body, which becomes the grpc-message (end()).
    if (this.webResponse && !(web = this.webResponse.head(status, headers, end))) return true;
    this.writeHead(web, end, grpc);
    if (end) this.finish();
    return true;
  }

  /** The response head, as HTTP/1.1: the route's operations and CORS, a generated cookie, the framing. */
  private writeHead({ status, headers }: WebHead, end: boolean, grpc: number | undefined): void {
    const route = this.plan.route;
    const extra: HeaderList = [];
    if (route.cors)
      for (const line of corsResponseHeaders(route.cors, this.client)) {
        const colon = line.indexOf(':');
        extra.push([line.slice(0, colon), line.slice(colon + 2, -2)]);
      }
    if (this.x.generatedCookie) extra.push(['set-cookie', this.x.generatedCookie.header]);
    const out = downstreamResponse(status, headers, route, this.plan.destination, extra);
    this.keepAlive = this.client.head.keepAlive && !this.x.draining;
    const hasLength = out['content-length'] !== undefined;
    // No length from the server and a body to come: chunked (the only HTTP/1.1 framing that can carry trailers).
    this.chunked = !end && !hasLength && this.client.method !== 'HEAD' && status !== 204 && status !== 304;
    let head = `HTTP/1.1 ${status} ${status === 200 ? 'OK' : 'Status'}\r\n`;
    for (const n in out) {
      if (n.charCodeAt(0) === 58 /* ':' */) continue;
      const v = out[n];
      for (const one of Array.isArray(v) ? v : [v]) head += `${n}: ${one}\r\n`;
    }
    if (this.chunked) head += 'transfer-encoding: chunked\r\n';
    else if (end && !hasLength && status !== 204 && status !== 304) head += 'content-length: 0\r\n';
    if (!this.keepAlive) head += 'connection: close\r\n';
    this.x.bridgeCommitted(status, grpc);
    this.client.write(`${head}\r\n`);
  }

  data(upstream: Buffer): boolean {
    if (this.x.done) return true;
    const chunk = this.webResponse ? this.webResponse.data(upstream) : upstream;
    return chunk.length ? this.write(chunk) : true;
  }

  private write(chunk: Buffer): boolean {
    this.bytesOut += chunk.length;
    if (!this.chunked) return this.client.write(chunk);
    this.client.write(`${chunk.length.toString(16)}\r\n`);
    this.client.write(chunk);
    return this.client.write('\r\n');
  }

  trailers(headers: HeaderList): void {
    this.trailersOut = headers;
    const grpc = grpcOf(headers);
    if (grpc !== undefined) this.x.bridgeCommitted(0, grpc);
  }

  end(): void {
    if (this.x.done) return;
    if (this.webResponse) {
      // gRPC-Web: the trailers go as the body's last frame, or the held head as a gRPC status.
      const last = this.webResponse.end(this.trailersOut);
      if (last.head) this.writeHead(last.head, true, undefined);
      else if (last.body.length) this.write(last.body);
      this.trailersOut = undefined;
    }
    if (this.chunked) {
      let tail = '0\r\n';
      // Trailers only to a client that said it takes them (`te: trailers`): others may not expect fields after the body.
      if (this.upstream.teTrailers) for (const [n, v] of this.trailersOut ?? []) tail += `${n}: ${v}\r\n`;
      this.client.write(`${tail}\r\n`);
    }
    this.finish();
  }

  failed(flag: Flag, status: number, reason: Failure): void {
    this.tries.failed(flag, status, reason);
  }

  /** The route's timeout passed (the exchange's): a reply if nothing was sent, else the connection closed. */
  timedOut(): void {
    this.tries.drop();
    if (this.committed) this.x.bridgeAborted('UT');
    else this.x.bridgeReply(504, 'UT', 'upstream request timeout\n');
  }

  private finish(): void {
    this.stop();
    this.x.bridgeEnded(this.keepAlive && this.replay.done, this.bytesOut, this.tries.endpoint?.key ?? '');
  }

  /** The exchange is over (done, the client gone, a local reply): no try or timer goes on. */
  stop(): void {
    this.tries.stop();
  }

  get upstreamKey(): string | undefined {
    return this.tries.endpoint?.key;
  }
}
