/**
 * The upstream tries of a request that goes over the HTTP/2 layer's tries (upstream-h1.ts,
 * upstream-h2.ts), for an HTTP/2 client (h2-exchange.ts) or an HTTP/1.1 client of an HTTP/2
 * cluster (h1-to-h2.ts): the endpoint picked, the cluster's request limit held for the request's
 * life, the per-try timeout, and a retry after its back-off when retry.ts allows it. What a try
 * is, and what a reply or an abort does to the client, are the owner's.
 */
import type { RetryConfig } from '../../contract/proxy-config';
import type { RequestInfo } from '../request/context';
import { pickEndpoint, type GeneratedCookie } from '../request/hash-key';
import type { Flag } from '../request/record';
import type { ReplayBuffer } from '../request/replay-buffer';
import { avoidsTriedHosts, backoffMs, mayRetry, type Failure } from '../request/retry';
import type { Cluster, Endpoint } from '../upstream/cluster';
import type { UpstreamTry } from './upstream-try';

export const RESET = 'upstream connect error or disconnect/reset before headers. reset reason:';

/** What the tries read of, and do to, the request they serve. */
export interface TriesOwner {
  /** The request is over: no try or retry goes on. */
  readonly done: boolean;
  /** A response head went to the client: a failure now breaks it off. */
  readonly committed: boolean;
  generatedCookie?: GeneratedCookie;
  /** A try to `endpoint`, not started yet (started once it is `current`: it may call the owner's `ready` at once). */
  createTry(endpoint: Endpoint): UpstreamTry;
  /** A local reply: nothing went to the client yet. */
  reply(status: number, flag: Flag, body: string): void;
  /** A response under way is broken off. */
  abort(flag: Flag): void;
  flag(flag: Flag): void;
}

export class Tries {
  count = 0;
  current?: UpstreamTry;
  /** The current try has its stream or connection: body bytes go straight to it. */
  ready = false;
  endpoint?: Endpoint;
  private tried?: Endpoint[];
  /** Counted in the cluster's requests in flight (maxRequests), from the first try to `stop`. */
  private counted = false;
  private tryTimer?: NodeJS.Timeout;
  private backoffTimer?: NodeJS.Timeout;

  constructor(
    readonly cluster: Cluster,
    private readonly retries: RetryConfig | undefined,
    private readonly body: ReplayBuffer,
    private readonly req: RequestInfo,
    private readonly owner: TriesOwner,
  ) {}

  next(): void {
    const { cluster, owner } = this;
    this.count++;
    const endpoint = pickEndpoint(cluster, this.req, owner, this.tried);
    if (!endpoint) return owner.reply(503, 'UH', 'no healthy upstream\n');
    if (!this.counted) {
      const max = cluster.config.maxRequests;
      if (max !== undefined && cluster.requestsInFlight >= max) {
        cluster.overflows++;
        return owner.reply(503, 'UO', `${RESET} overflow\n`);
      }
      cluster.requestsInFlight++;
      this.counted = true;
    }
    this.endpoint = endpoint;
    if (avoidsTriedHosts(this.retries)) (this.tried ??= []).push(endpoint);
    this.ready = false;
    const perTry = this.retries?.perTryTimeoutMs;
    if (perTry) this.tryTimer = setTimeout(() => this.onTryTimeout(), perTry);
    const t = (this.current = owner.createTry(endpoint));
    t.start(this);
  }

  /** The try could not even wait for a connection: the cluster's pending requests are at their bound. */
  refused(flag: 'UO'): void {
    clearTimeout(this.tryTimer);
    this.owner.reply(503, flag, `${RESET} overflow\n`);
  }

  /** A final response head came: the endpoint's result counted; true when a retry follows instead. */
  answered(status: number, grpcStatus: number | undefined): boolean {
    clearTimeout(this.tryTimer);
    this.cluster.recordResult(this.endpoint!, status);
    return this.retry(status, undefined, grpcStatus);
  }

  /** The try failed (no response, or it broke off): a retry, an abort, or a reply naming why. */
  failed(flag: Flag, status: number, reason: Failure): void {
    const owner = this.owner;
    if (owner.done) return;
    this.current = undefined;
    this.ready = false;
    clearTimeout(this.tryTimer);
    if (owner.committed) return owner.abort(flag);
    // A connect failure or reset counts against the endpoint as a 503 would (outlier detection).
    this.cluster.recordResult(this.endpoint!, 503);
    if (this.retry(undefined, reason)) return;
    if (this.count > 1) owner.flag('URX');
    const why =
      reason === 'connect-failure' ? 'connection failure' : reason === 'refused-stream' ? 'refused stream' : 'connection termination';
    owner.reply(status, flag, `${RESET} ${why}\n`);
  }

  private retry(status: number | undefined, failure: Failure | undefined, grpcStatus?: number): boolean {
    const policy = this.retries;
    if (!mayRetry(policy, this.count, this.body.sentPartially, status, failure, grpcStatus)) return false;
    this.drop();
    this.backoffTimer = setTimeout(
      () => {
        this.backoffTimer = undefined;
        if (!this.owner.done) this.next();
      },
      backoffMs(policy, this.count, Math.random),
    );
    return true;
  }

  private onTryTimeout(): void {
    if (this.owner.done || this.owner.committed) return;
    this.drop();
    this.cluster.recordResult(this.endpoint!, 504);
    if (!this.retry(504, 'reset')) this.owner.reply(504, 'UT', 'upstream request timeout\n');
  }

  /** The current try's response is complete: it is not cancelled when the request ends. */
  completed(): void {
    clearTimeout(this.tryTimer);
    this.current = undefined;
    this.ready = false;
  }

  /** The current try is abandoned (a retry, a timeout, the client gone). */
  drop(): void {
    clearTimeout(this.tryTimer);
    const t = this.current;
    this.current = undefined;
    this.ready = false;
    t?.cancel();
  }

  /** The request is over: no try or timer goes on, and it leaves the cluster's count. */
  stop(): void {
    this.drop();
    clearTimeout(this.backoffTimer);
    if (this.counted) {
      this.counted = false;
      this.cluster.requestsInFlight--;
    }
  }
}
