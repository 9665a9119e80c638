/**
 * One request, as a state machine over the layers in the order it meets them: authorize.ts →
 * route.ts (a decision; a fault may delay it) → attempt.ts (upstream tries, retried as retry.ts
 * says) → relay.ts (the response) → the record (record.ts). It owns what the layers share: the
 * route's timeout, the response flags, the status and the record. The client connection is a
 * `Client` and the proxy an `ExchangeContext` (context.ts).
 */
// The module's `performance`, not the global: Node's global is an accessor that runs a getter on every
// read (a web "replaceable" attribute), about 150 instructions each time; the request path reads the clock per request.
import { performance } from 'node:perf_hooks';
import type { ListenerConfig, RouteConfig, WeightedCluster } from '../../contract/proxy-config';
import { SEEN_X_REQUEST_ID } from '../http/head';
import { localResponse } from '../http/write';
import { Deadline, requestDeadlines } from '../deadlines';
import { RequestIds } from '../request-id';
import type { Cluster } from '../upstream/cluster';
import { Attempts, type AttemptOwner } from './attempt';
import type { DryRunRecord } from '../../contract/authz-dry-run';
import { admit, refusalReply, routingView, withAdmission } from './authorize';
import type { Client, ExchangeContext, MirrorBody } from './context';
import type { GeneratedCookie } from './hash-key';
import { flagBit, flagString, requestFinished, type Flag, type RequestRecord } from './record';
import { Relay, type RelayOwner } from './relay';
import { RequestBody } from './request-body';
import type { Failure } from './retry';
import { decide, type Decision, type ListenerEntry } from './route';
import { upstreamHead } from './upstream-head';
import { type BridgeOwner, Http1ToH2 } from '../h2/h1-to-h2';
import { type GrpcWebCall, grpcWebCallOn, grpcWebLocalReply } from '../h2/grpc-web';
import type { TraceContext } from '../tracing/propagation';

const REQUEST_IDS = new RequestIds();

const RESET = 'upstream connect error or disconnect/reset before headers. reset reason:';

export class Exchange implements AttemptOwner, RelayOwner, BridgeOwner {
  private readonly started = performance.now();
  done = false;
  route?: RouteConfig;
  destination?: WeightedCluster;
  requestId: string;
  generatedCookie?: GeneratedCookie;
  readonly listener?: ListenerConfig;
  /**
   * The client is external (a gateway's): its x-request-id is replaced, and so is its x-forwarded-proto
   * unless a trusted proxy is in front (Envoy keeps that one's with xff_num_trusted_hops > 0).
   */
  readonly edge: boolean;
  readonly ownProto: boolean;
  /** This request's span, when the proxy traces (the upstream head carries it as parent). */
  readonly trace?: TraceContext;
  private cluster?: Cluster;
  private up?: Attempts;
  private relay?: Relay;
  /** To an HTTP/2 cluster the tries are HTTP/2 streams (h2/h1-to-h2.ts), not Attempts and a Relay. */
  private bridge?: Http1ToH2;
  private grpcStatus?: number;
  /** A gRPC-Web call on a listener that translates it (h2/grpc-web.ts; the bridge does, to any cluster). */
  readonly web?: GrpcWebCall;
  private readonly body?: RequestBody;
  private flags = 0;
  private status = 0;
  private bytesIn = 0;
  /** Bytes of a local reply (a relayed response counts its own). */
  private bytesOut = 0;
  /** Why the proxy answered itself: the policy rule that denied the request (access log `response_code_details`). */
  private details?: string;
  /** Why the last upstream connection failed to come up (access log `upstream_transport_failure_reason`). */
  private transportFailure?: string;
  /** The dry-run policies' outcomes, for the record. */
  private dryRun?: DryRunRecord;
  /** A fault's delay (rare: a Node timer), and the route's timeout. */
  private delayTimer?: NodeJS.Timeout;
  private timeout?: Deadline;
  /** Mirror copies of this request, taking its body as it comes. */
  private mirrors?: MirrorBody[];

  constructor(
    private readonly client: Client,
    private readonly ctx: ExchangeContext,
    private readonly entry: ListenerEntry | undefined,
    readonly authority: string,
  ) {
    this.listener = entry?.config;
    if (this.listener?.grpcWeb)
      this.web = grpcWebCallOn(this.listener, client.originalPort, client.header('content-type'), client.header('accept'));
    if (client.bodyPending) this.body = new RequestBody(client);
    // A gateway's clients are external (Envoy's use_remote_address, no internal addresses, as Istio
    // sets it for gateways): their x-request-id is not trusted (preserve_external_request_id off); a sidecar keeps it.
    this.edge = ctx.identity.mode === 'gateway';
    this.ownProto = this.edge && !(ctx.limits.trustedHops ?? 0);
    this.requestId = !this.edge && client.head.seen & SEEN_X_REQUEST_ID ? (client.header('x-request-id') ?? '') : '';
    // Every request has one, a local reply's too (Envoy's connection manager sets it before any filter).
    if (!this.requestId) this.requestId = REQUEST_IDS.next();
    if (ctx.tracer) this.trace = ctx.tracer.start(client, this.listener?.trafficDirection === 'INBOUND');
  }

  start(): void {
    const admission = admit(this.listener, this.client);
    this.dryRun = admission.dryRun;
    if (admission.refusal) {
      const r = refusalReply(admission.refusal);
      this.details = r.details;
      return this.reply(r.status, '', r.body, r.headers);
    }
    // A verified JWT's header edits ride on the route, so every way upstream applies them.
    const decision = withAdmission(decide(this.entry, routingView(this.client, admission), Math.random), admission);
    this.route = decision.route;
    if (!decision.delayMs) return this.proceed(decision);
    this.flags |= flagBit('DI');
    this.delayTimer = setTimeout(() => this.proceed(decision), decision.delayMs);
  }

  private proceed(d: Decision): void {
    if (d.kind === 'reply') return this.reply(d.status, d.flag, d.body, d.headers);
    this.destination = d.destination;
    const cluster = (this.cluster = this.ctx.cluster(d.destination.cluster));
    if (!cluster || (cluster.endpoints.length === 0 && cluster.config.lb.kind !== 'passthrough'))
      return this.reply(503, 'UH', 'no healthy upstream\n');
    // An HTTP/2 cluster, or a gRPC-Web call to be translated whatever its cluster speaks (Envoy's grpc_web filter runs before the router).
    if (this.web || cluster.protocolFor(this.client.originalPort) === 'h2') this.bridge = new Http1ToH2(cluster, this, this.client, d);
    else {
      this.relay = new Relay(this, this.client, this);
      this.up = new Attempts(cluster, this, this.client, this.relay, this.body, d.action.retries);
    }
    // The route's timeout counts from the head's arrival (the time taken already), or from the end
    // of a fault delay (Envoy's router runs after the fault filter).
    const ms = d.action.timeoutMs;
    if (ms) requestDeadlines.set((this.timeout = new Deadline(() => this.onTimeout())), ms, d.delayMs ? performance.now() : this.started);
    // A body is copied to each mirror as it streams (none of it has come yet, unless a fault delayed the request: no copy then).
    const withBody = this.client.bodyPending;
    if (d.mirrors && !(withBody && this.bytesIn > 0))
      for (const m of d.mirrors) {
        const copy = this.ctx.mirror(m, this.client.method, upstreamHead(this.client, this, true), withBody);
        if (copy) (this.mirrors ??= []).push(copy);
      }
    if (this.bridge) return this.bridge.start();
    this.up!.next();
  }

  /** The relay's context: responses say `Connection: close` while the proxy or this connection's listener drains. */
  get draining(): boolean {
    return this.ctx.draining || this.client.draining === true;
  }

  get limits(): ExchangeContext['limits'] {
    return this.ctx.limits;
  }

  // ---- from the client connection (downstream.ts) ----

  /** Request body bytes from the client, in order. */
  requestBody(chunk: Buffer, last: boolean): void {
    this.bytesIn += chunk.length;
    if (this.mirrors) for (const m of this.mirrors) m.write(chunk, last);
    if (this.bridge) return this.done ? undefined : this.bridge.body(chunk, last);
    this.body?.receive(chunk, last, this.done ? undefined : this.up?.conn?.socket);
  }

  resumeUpstream(): void {
    this.bridge?.resume();
    this.up?.conn?.socket.resume();
  }

  tunnelToUpstream(chunk: Buffer): void {
    this.bytesIn += chunk.length;
    this.up?.conn?.socket.write(chunk);
  }

  /**
   * The client's connection closed before the exchange was over. Recorded as Envoy records it: an
   * upgraded connection (101) when its tunnel closes, with the bytes of both ways; otherwise flag
   * DC, the status sent if a response head was, else 0 (`downstream_remote_disconnect`).
   */
  downstreamGone(): void {
    if (this.done) return;
    if (!this.client.tunnel) {
      this.flags |= flagBit('DC');
      if (!this.relay?.committed) this.status = 0;
      this.details ??= 'downstream_remote_disconnect';
    }
    this.up?.drop(false);
    this.bridge?.stop();
    this.finish(false);
  }

  // ---- from the tries (attempt.ts) and the relay (relay.ts) ----

  refused(flag: 'UH' | 'UO'): void {
    this.reply(503, flag, flag === 'UO' ? `${RESET} overflow\n` : 'no healthy upstream\n');
  }

  timedOut(): void {
    this.reply(504, 'UT', 'upstream request timeout\n');
  }

  finalHead(status: number): boolean {
    this.up!.answered(status);
    if (this.up!.retry(status, undefined)) return true;
    this.status = status;
    return false;
  }

  upstreamFailed(flag: Flag, status: number, reason: Failure = 'reset', transportFailure?: string): void {
    if (this.done) return;
    const up = this.up!;
    up.drop(false);
    if (this.relay!.committed) return this.abort(flag);
    // A connect failure or reset counts against the endpoint as a 503 would (outlier detection).
    up.record(503);
    if (up.retry(undefined, reason)) return;
    // The last try's, as Envoy's upstream transport failure reason (a retry that succeeds leaves none).
    this.transportFailure = transportFailure;
    if (up.count > 1) this.flags |= flagBit('URX');
    this.reply(status, flag, `${RESET} ${reason === 'connect-failure' ? 'connection failure' : 'connection termination'}\n`);
  }

  complete(reusable: boolean): void {
    const { head, framing, overrun } = this.relay!;
    const untilClose = framing?.untilClose ?? false;
    this.up!.drop(reusable && head!.keepAlive && (this.body?.done ?? true) && !untilClose && !overrun);
    this.finish(this.client.head.keepAlive && !untilClose);
  }

  // ---- from the HTTP/2 upstream (h2/h1-to-h2.ts; `draining` above) ----

  bridgeReply(status: number, flag: Flag | '', body: string): void {
    this.reply(status, flag, body);
  }

  bridgeCommitted(status: number, grpcStatus?: number): void {
    if (status) this.status = status;
    if (grpcStatus !== undefined) this.grpcStatus = grpcStatus;
  }

  bridgeFlag(flag: Flag): void {
    this.flags |= flagBit(flag);
  }

  bridgeEnded(keepAlive: boolean, bytesOut: number): void {
    this.bytesOut += bytesOut;
    this.finish(keepAlive && this.client.head.keepAlive);
  }

  bridgeAborted(flag: Flag): void {
    this.abort(flag);
  }

  // ---- the end ----

  private onTimeout(): void {
    if (this.done) return;
    if (this.bridge) return this.bridge.timedOut();
    this.up!.drop(false);
    if (this.relay!.committed) return this.abort('UT');
    this.timedOut();
  }

  /** Mid-response: nothing sensible can follow on this client connection. */
  private abort(flag: Flag): void {
    this.flags |= flagBit(flag);
    this.finish(false);
    this.client.close();
  }

  /** A local reply: no route, a refusal, a fault, a redirect, a direct response, an upstream that failed. */
  private reply(status: number, flag: Flag | '', body: string, headers: Array<[string, string]> = []): void {
    if (this.done) return;
    if (flag) this.flags |= flagBit(flag);
    const keepAlive = this.client.head.keepAlive && !this.client.bodyPending && !this.draining;
    if (this.web && status >= 300) {
      // As Envoy's grpc_web filter turns a local reply: the status in headers, no body.
      const r = grpcWebLocalReply(this.web, status, body);
      this.status = r.status;
      const type = r.headers.find(([n]) => n === 'content-type')![1];
      const rest = r.headers.filter(([n]) => n !== 'content-type' && n !== 'content-length');
      this.grpcStatus = Number(rest.find(([n]) => n === 'grpc-status')![1]);
      this.client.write(localResponse(r.status, '', keepAlive, [...headers, ...rest], type));
      return this.finish(keepAlive);
    }
    this.status = status;
    this.bytesOut += Buffer.byteLength(body);
    this.client.write(localResponse(status, body, keepAlive, headers));
    this.finish(keepAlive);
  }

  private finish(keepAlive: boolean): void {
    if (this.done) return;
    this.done = true;
    this.stopTimers();
    if (this.mirrors) for (const m of this.mirrors) m.abandon();
    const now = performance.now();
    if (requestFinished.hasSubscribers) {
      const { status, bytesIn, requestId, authority, details } = this;
      const inbound = this.listener?.trafficDirection === 'INBOUND';
      const bytesOut = this.bytesOut + (this.relay?.bytesOut ?? 0);
      requestFinished.publish({
        owner: this.ctx,
        request: this.client,
        inbound,
        cluster: this.cluster?.config,
        status,
        flags: flagString(this.flags),
        ms: now - this.started,
        bytesIn,
        bytesOut,
        route: this.route?.name,
        upstream: this.up?.endpoint?.key ?? this.bridge?.upstreamKey,
        requestId,
        authority,
        details,
        transportFailure: this.transportFailure,
        protocol: this.client.head.http10 ? 'HTTP/1.0' : 'HTTP/1.1',
        grpcStatus: this.grpcStatus,
        trace: this.trace,
        dryRun: this.dryRun,
      } satisfies RequestRecord);
    }
    this.client.finished(keepAlive, now);
  }

  private stopTimers(): void {
    this.bridge?.stop();
    clearTimeout(this.delayTimer);
    if (this.timeout) requestDeadlines.cancel(this.timeout);
    this.up?.stop();
  }
}
