/**
 * One request, as a state machine over the layers in the order it meets them: authorize.ts →
 * route.ts (a decision; a fault may delay it) → attempt.ts (one upstream try) ⇄ retry.ts (another
 * after a back-off) → relay.ts (the response) → the record (record.ts). It owns what the layers
 * share: timers, response flags, the status, the record; the client connection is a `Client`.
 */
import type { ListenerConfig, RetryConfig, RouteConfig, WeightedCluster } from '../../shared/proxy-config';
import { SEEN_X_REQUEST_ID, type Limits } from '../http/head';
import { localResponse } from '../http/write';
import { Deadline, Deadlines } from '../deadlines';
import { RequestIds } from '../request-id';
import type { Cluster } from '../upstream/cluster';
import { Attempts, type AttemptOwner } from './attempt';
import { refusal } from './authorize';
import type { Client } from './client';
import type { GeneratedCookie } from './hash-key';
import { flagBit, flagString, requestFinished, type Flag, type RequestRecord } from './record';
import { Relay, type RelayOwner } from './relay';
import { RequestBody } from './request-body';
import { avoidsTriedHosts, backoffMs, mayRetry, type Failure } from './retry';
import { decide, type Decision, type ListenerEntry } from './route';
import { upstreamHead } from './upstream-head';

const REQUEST_IDS = new RequestIds();
const DEADLINES = new Deadlines();

/** What a request needs of the proxy it goes through. */
export interface ExchangeContext {
  readonly identity: { readonly mode: 'gateway' | 'sidecar' };
  readonly limits: Limits;
  /** Responses say `Connection: close` (the proxy is draining). */
  readonly draining: boolean;
  cluster(name: string): Cluster | undefined;
  /** A fire-and-forget copy of a bodiless request (mirror.ts). */
  mirror(cluster: string, method: string, head: string): void;
}

export class Exchange implements AttemptOwner, RelayOwner {
  private readonly started = performance.now();
  done = false;
  route?: RouteConfig;
  destination?: WeightedCluster;
  requestId: string;
  generatedCookie?: GeneratedCookie;
  readonly listener?: ListenerConfig;
  /**
   * The client is external (a gateway's): its x-request-id is replaced, and so is its
   * x-forwarded-proto unless a trusted proxy is in front (Envoy keeps that one's with xff_num_trusted_hops > 0).
   */
  readonly edge: boolean;
  readonly ownProto: boolean;
  private cluster?: Cluster;
  private retries?: RetryConfig;
  private up?: Attempts;
  private relay?: Relay;
  private readonly body?: RequestBody;
  private flags = 0;
  private status = 0;
  private bytesIn = 0;
  /** Bytes of a local reply (a relayed response counts its own). */
  private bytesOut = 0;
  /** Why the proxy answered itself: the policy rule that denied the request (access log `response_code_details`). */
  private details?: string;
  /** A fault delay and the back-off before a retry (rare: Node timers). */
  private delayTimer?: NodeJS.Timeout;
  private backoffTimer?: NodeJS.Timeout;
  /** The route's timeout and the current try's (per-try) timeout. */
  private timeout?: Deadline;
  private tryTimeout?: Deadline;

  constructor(
    private readonly client: Client,
    private readonly ctx: ExchangeContext,
    private readonly entry: ListenerEntry | undefined,
    readonly authority: string,
  ) {
    this.listener = entry?.config;
    if (client.bodyPending) this.body = new RequestBody(client);
    // A gateway's clients are external (Envoy's use_remote_address, no internal addresses, as Istio
    // sets it for gateways): their x-request-id is not trusted (preserve_external_request_id off); a sidecar keeps it.
    this.edge = ctx.identity.mode === 'gateway';
    this.ownProto = this.edge && !(ctx.limits.trustedHops ?? 0);
    this.requestId = !this.edge && client.head.seen & SEEN_X_REQUEST_ID ? (client.header('x-request-id') ?? '') : '';
  }

  get conn() {
    return this.up?.conn;
  }

  start(): void {
    const refused = refusal(this.listener, this.client);
    if (refused?.kind === 'https-redirect') return this.reply(301, '', '', [['location', refused.location]]);
    if (refused) {
      this.details = refused.policy && `rbac_access_denied_matched_policy[${refused.policy}]`;
      return this.reply(403, '', 'RBAC: access denied\n');
    }
    const decision = decide(this.entry, this.client, Math.random);
    this.route = decision.route;
    if (!decision.delayMs) return this.proceed(decision);
    this.flags |= flagBit('DI');
    this.delayTimer = setTimeout(() => this.proceed(decision), decision.delayMs);
  }

  private proceed(d: Decision): void {
    if (d.kind === 'reply') return this.reply(d.status, d.flag, d.body, d.headers);
    this.destination = d.destination;
    const cluster = (this.cluster = this.ctx.cluster(d.destination.cluster));
    if (!cluster || (cluster.endpoints.length === 0 && cluster.config.lb.kind !== 'passthrough')) return this.reply(503, 'UH', 'no healthy upstream\n');
    if (!this.requestId) this.requestId = REQUEST_IDS.next();
    this.retries = d.action.retries;
    this.relay = new Relay(this, this.client, this.ctx);
    this.up = new Attempts(cluster, this, this.client, this.relay, this.body, avoidsTriedHosts(this.retries));
    // The route's timeout counts from the head's arrival (the time taken already), or from the end
    // of a fault delay (Envoy's router runs after the fault filter).
    const ms = d.action.timeoutMs;
    if (ms) DEADLINES.set((this.timeout = new Deadline(() => this.onTimeout())), ms, d.delayMs ? performance.now() : this.started);
    if (d.mirrors && !this.client.bodyPending) for (const m of d.mirrors) this.ctx.mirror(m, this.client.method, upstreamHead(this.client, this, true));
    this.up.next();
  }

  // ---- from the client connection (downstream.ts) ----

  /** Request body bytes from the client, in order. */
  requestBody(chunk: Buffer, last: boolean): void {
    this.bytesIn += chunk.length;
    this.body?.receive(chunk, last, this.done ? undefined : this.up?.conn?.socket);
  }

  resumeUpstream(): void {
    this.up?.conn?.socket.resume();
  }

  tunnelToUpstream(chunk: Buffer): void {
    this.up?.conn?.socket.write(chunk);
  }

  downstreamGone(): void {
    if (this.done) return;
    this.flags |= flagBit('DC');
    this.status = this.status || 499;
    this.up?.drop(false);
    this.done = true;
    this.stopTimers();
  }

  // ---- from the try (attempt.ts) and the relay (relay.ts) ----

  refused(flag: 'UH' | 'UO'): void {
    this.reply(503, flag, flag === 'UO' ? 'upstream connect error or disconnect/reset before headers. reset reason: overflow\n' : 'no healthy upstream\n');
  }

  sending(): void {
    const perTry = this.retries?.perTryTimeoutMs;
    if (perTry) DEADLINES.set((this.tryTimeout ??= new Deadline(() => this.onTryTimeout())), perTry);
  }

  finalHead(status: number): boolean {
    if (this.tryTimeout) DEADLINES.cancel(this.tryTimeout);
    this.up!.record(status);
    if (this.retried(status, undefined)) return true;
    this.status = status;
    return false;
  }

  upstreamFailed(flag: Flag, status: number, reason: Failure = 'reset'): void {
    if (this.done) return;
    this.up!.drop(false);
    if (this.relay!.committed) return this.abort(flag);
    // A connect failure or reset counts against the endpoint as a 503 would (outlier detection).
    this.up!.record(503);
    if (this.retried(undefined, reason)) return;
    if (this.up!.count > 1) this.flags |= flagBit('URX');
    const why = reason === 'connect-failure' ? 'connection failure' : 'connection termination';
    this.reply(status, flag, `upstream connect error or disconnect/reset before headers. reset reason: ${why}\n`);
  }

  complete(reusable: boolean): void {
    const { head, framing, overrun } = this.relay!;
    const untilClose = framing?.untilClose ?? false;
    this.up!.drop(reusable && head!.keepAlive && (this.body?.done ?? true) && !untilClose && !overrun);
    this.finish(this.client.head.keepAlive && !untilClose);
  }

  // ---- retries and timeouts ----

  /** If the policy retries this outcome, the try is dropped and the next one set off after the back-off. */
  private retried(status: number | undefined, failure: Failure | undefined): boolean {
    const up = this.up!;
    if (!mayRetry(this.retries, up.count, this.body?.sentPartially ?? false, status, failure)) return false;
    up.drop(false);
    this.flags &= ~flagBit('URX');
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined;
      if (!this.done) up.next();
    }, backoffMs(this.retries, up.count, Math.random));
    return true;
  }

  private onTryTimeout(): void {
    if (this.relay!.committed || this.done) return;
    this.up!.drop(false);
    this.up!.record(504);
    if (!this.retried(504, 'reset')) this.reply(504, 'UT', 'upstream request timeout\n');
  }

  private onTimeout(): void {
    if (this.done) return;
    this.up!.drop(false);
    if (this.relay!.committed) return this.abort('UT');
    this.reply(504, 'UT', 'upstream request timeout\n');
  }

  // ---- the end ----

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
    this.status = status;
    const keepAlive = this.client.head.keepAlive && !this.client.bodyPending && !this.ctx.draining;
    this.bytesOut += Buffer.byteLength(body);
    this.client.write(localResponse(status, body, keepAlive, headers));
    this.finish(keepAlive);
  }

  private finish(keepAlive: boolean): void {
    if (this.done) return;
    this.done = true;
    this.stopTimers();
    const now = performance.now();
    if (requestFinished.hasSubscribers) {
      const { status, bytesIn, requestId, authority, details } = this;
      const inbound = this.listener?.trafficDirection === 'INBOUND';
      const bytesOut = this.bytesOut + (this.relay?.bytesOut ?? 0);
      requestFinished.publish({
        owner: this.ctx, request: this.client, inbound, cluster: this.cluster?.config, status, flags: flagString(this.flags), ms: now - this.started,
        bytesIn, bytesOut, route: this.route?.name, upstream: this.up?.endpoint?.key, requestId, authority, details,
      } satisfies RequestRecord);
    }
    this.client.finished(keepAlive, now);
  }

  private stopTimers(): void {
    clearTimeout(this.delayTimer);
    clearTimeout(this.backoffTimer);
    if (this.timeout) DEADLINES.cancel(this.timeout);
    if (this.tryTimeout) DEADLINES.cancel(this.tryTimeout);
  }
}
