/**
 * Upstream tries, one at a time. A try: an endpoint picked (by the request's hash key under a hash
 * policy, by the original destination for a passthrough; on a retry, one not tried yet), a
 * connection to it (an idle pooled one at once, else when the cluster has one), then the head and
 * the body so far written on it; what the connection answers goes to the relay. When a try fails,
 * the route's retry policy (retry.ts) says whether another follows, after its back-off.
 */
import type { RetryConfig } from '../../contract/proxy-config';
import { Deadline, requestDeadlines } from '../deadlines';
import type { Cluster, Endpoint } from '../upstream/cluster';
import type { UpstreamConn } from '../upstream/conn';
import type { Client } from './context';
import { pickEndpoint, type GeneratedCookie } from './hash-key';
import type { Relay } from './relay';
import type { RequestBody } from './request-body';
import { avoidsTriedHosts, backoffMs, mayRetry, type Failure } from './retry';
import { upstreamHead, type HeadInputs } from './upstream-head';

/** What the tries read of, and report to, their exchange. */
export interface AttemptOwner extends HeadInputs {
  readonly done: boolean;
  generatedCookie?: GeneratedCookie;
  /** No endpoint, or no connection to it (`UO`: the pool is full): the exchange answers 503. */
  refused(flag: 'UH' | 'UO'): void;
  /** The per-try timeout passed, and no retry follows: the exchange answers 504. */
  timedOut(): void;
}

export class Attempts {
  /** Tries made so far. */
  count = 0;
  /** The current (or last) try's endpoint, and its connection while the try lasts. */
  endpoint?: Endpoint;
  conn?: UpstreamConn;
  /** Endpoints tried, when a retry avoids them (previous_hosts). */
  private tried?: Endpoint[];
  private readonly avoidTried: boolean;
  private tryTimeout?: Deadline;
  /** The back-off before the next try (a Node timer: retries are rare). */
  private backoff?: NodeJS.Timeout;

  constructor(
    readonly cluster: Cluster,
    private readonly x: AttemptOwner,
    private readonly client: Client,
    private readonly relay: Relay,
    private readonly body: RequestBody | undefined,
    private readonly retries: RetryConfig | undefined,
  ) {
    this.avoidTried = avoidsTriedHosts(retries);
  }

  next(): void {
    const { cluster, client } = this;
    this.count++;
    const endpoint = pickEndpoint(cluster, client, this.x, this.tried);
    if (!endpoint) return this.x.refused('UH');
    // An idle pooled connection (the common case) is used at once; otherwise the cluster calls back.
    const idle = cluster.takeIdle(endpoint);
    if (idle) return this.send(endpoint, idle);
    cluster.acquire(endpoint, (r) => {
      if (this.x.done) {
        if ('conn' in r) cluster.release(r.endpoint, r.conn, true);
        return;
      }
      if ('error' in r) return this.x.refused(r.error === 'overflow' ? 'UO' : 'UH');
      this.send(r.endpoint, r.conn);
    });
  }

  /** The request (head, and the body so far) onto an upstream connection. */
  private send(endpoint: Endpoint, conn: UpstreamConn): void {
    this.endpoint = endpoint;
    if (this.avoidTried) (this.tried ??= []).push(endpoint);
    this.conn = conn;
    endpoint.active++;
    endpoint.requests++;
    conn.take(this.relay);
    this.relay.conn = conn;
    const perTry = this.retries?.perTryTimeoutMs;
    if (perTry) requestDeadlines.set((this.tryTimeout ??= new Deadline(() => this.onTryTimeout())), perTry);
    conn.socket.write(upstreamHead(this.client, this.x), 'latin1');
    this.body?.sendOn(conn.socket);
  }

  /** The try's response head came: its timeout stops, outlier detection hears of its status. */
  answered(status: number): void {
    if (this.tryTimeout) requestDeadlines.cancel(this.tryTimeout);
    this.record(status);
  }

  /** Outlier detection hears of the try's outcome (a failure counts as the status given). */
  record(status: number): void {
    if (this.endpoint) this.cluster.recordResult(this.endpoint, status);
  }

  /** If the policy retries this outcome: the try is dropped and the next one set off after the back-off. */
  retry(status: number | undefined, failure: Failure | undefined): boolean {
    if (!mayRetry(this.retries, this.count, this.body?.sentPartially ?? false, status, failure)) return false;
    this.drop(false);
    this.backoff = setTimeout(
      () => {
        this.backoff = undefined;
        if (!this.x.done) this.next();
      },
      backoffMs(this.retries, this.count, Math.random),
    );
    return true;
  }

  private onTryTimeout(): void {
    if (this.relay.committed || this.x.done) return;
    this.drop(false);
    this.record(504);
    if (!this.retry(504, 'reset')) this.x.timedOut();
  }

  /** The try is over: its connection back to the pool when `reusable`, else closed. */
  drop(reusable: boolean): void {
    const conn = this.conn;
    if (!conn) return;
    this.conn = undefined;
    this.relay.forget();
    this.endpoint!.active--;
    conn.handler = undefined;
    this.cluster.release(this.endpoint!, conn, reusable);
  }

  /** The exchange is over: no timer of a try may fire. */
  stop(): void {
    clearTimeout(this.backoff);
    if (this.tryTimeout) requestDeadlines.cancel(this.tryTimeout);
  }
}
