/**
 * What mastd writes back to the cluster: a Lease so that one replica leads, and, from the
 * leader only, a Warning Event on every resource it rejected (once per distinct finding).
 * Uses only what the control-plane chart's RBAC grants: leases get/create/update in its own
 * namespace, events create.
 */
import * as k8s from '@kubernetes/client-node';
import { formatFinding, type Finding } from '../../api';

export interface LeaderOptions {
  readonly namespace: string;
  readonly name?: string;
  readonly identity: string;
  /** @default 15 */
  readonly leaseSeconds?: number;
  readonly log?: (line: string) => void;
}

/** A Lease-based leader election, as client-go's: renew while held, take it over once it expires. */
export class LeaderElector {
  leader = false;
  private timer?: NodeJS.Timeout;
  private readonly api: k8s.CoordinationV1Api;

  constructor(
    kc: k8s.KubeConfig,
    private readonly o: LeaderOptions,
  ) {
    this.api = kc.makeApiClient(k8s.CoordinationV1Api);
  }

  start(): void {
    const seconds = this.o.leaseSeconds ?? 15;
    const tick = async () => {
      const was = this.leader;
      try {
        this.leader = await this.tryAcquire(seconds);
      } catch (err) {
        this.leader = false;
        this.o.log?.(`leader election: ${(err as Error).message}`);
      }
      if (was !== this.leader)
        this.o.log?.(this.leader ? `leader election: ${this.o.identity} now leads` : `leader election: ${this.o.identity} follows`);
      this.timer = setTimeout(tick, (seconds * 1000) / 3);
    };
    void tick();
  }

  private async tryAcquire(seconds: number): Promise<boolean> {
    const name = this.o.name ?? 'mastd-leader';
    const now = new Date();
    const spec = {
      holderIdentity: this.o.identity,
      leaseDurationSeconds: seconds,
      renewTime: now as unknown as k8s.V1MicroTime,
      acquireTime: now as unknown as k8s.V1MicroTime,
    };
    let lease: k8s.V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace: this.o.namespace });
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
      await this.api.createNamespacedLease({
        namespace: this.o.namespace,
        body: { metadata: { name, namespace: this.o.namespace }, spec },
      });
      return true;
    }
    const holder = lease.spec?.holderIdentity;
    const renewed = lease.spec?.renewTime ? new Date(lease.spec.renewTime as unknown as string).getTime() : 0;
    const expired = renewed + (lease.spec?.leaseDurationSeconds ?? seconds) * 1000 < now.getTime();
    if (holder && holder !== this.o.identity && !expired) return false;
    const acquireTime = holder === this.o.identity ? lease.spec?.acquireTime : spec.acquireTime;
    // The resourceVersion makes this a compare-and-swap: a replica that lost the race gets 409.
    await this.api.replaceNamespacedLease({ name, namespace: this.o.namespace, body: { ...lease, spec: { ...spec, acquireTime } } });
    return true;
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}

/** Posts one Warning Event per rejected resource and finding, while `shouldWrite()` (the leader). */
export class RejectionEvents {
  private readonly sent = new Set<string>();
  private readonly api: k8s.CoreV1Api;

  constructor(
    kc: k8s.KubeConfig,
    private readonly shouldWrite: () => boolean,
    private readonly log?: (line: string) => void,
    private readonly component = 'mastd',
  ) {
    this.api = kc.makeApiClient(k8s.CoreV1Api);
  }

  async report(
    rejected: readonly Finding[],
    objectOf: (f: Finding) => { apiVersion?: string; metadata?: object } | undefined,
  ): Promise<void> {
    if (!this.shouldWrite()) return;
    for (const f of rejected) {
      const key = `${f.kind}/${f.namespace}/${f.name}|${f.code}|${f.path}|${f.message}`;
      if (this.sent.has(key)) continue;
      this.sent.add(key);
      const namespace = f.namespace ?? 'default';
      const now = new Date();
      const obj = objectOf(f);
      try {
        await this.api.createNamespacedEvent({
          namespace,
          body: {
            metadata: { generateName: `${f.name}.`, namespace },
            involvedObject: {
              kind: f.kind,
              name: f.name,
              namespace,
              apiVersion: obj?.apiVersion,
              uid: (obj?.metadata as { uid?: string } | undefined)?.uid,
            },
            type: 'Warning',
            reason: 'Rejected',
            message: `${formatFinding(f)} (the last good version of this resource stays in effect)`,
            source: { component: this.component },
            reportingComponent: this.component,
            firstTimestamp: now,
            lastTimestamp: now,
            count: 1,
          },
        });
      } catch (err) {
        this.sent.delete(key);
        this.log?.(`could not write an Event for ${f.kind} ${namespace}/${f.name}: ${(err as Error).message}`);
      }
    }
  }
}

/**
 * The root CA shared by every replica: the `mastd-ca` Secret in mastd's namespace (tls.crt,
 * tls.key), created by whichever replica gets there first; a replica that loses the race reads
 * the winner's.
 */
export async function sharedCaSecret(
  kc: k8s.KubeConfig,
  namespace: string,
  generate: () => Promise<{ cert: string; key: string }>,
  name = 'mastd-ca',
): Promise<{ cert: string; key: string }> {
  const api = kc.makeApiClient(k8s.CoreV1Api);
  const read = async () => {
    const secret = await api.readNamespacedSecret({ name, namespace });
    const data = secret.data ?? {};
    return { cert: Buffer.from(data['tls.crt'] ?? '', 'base64').toString(), key: Buffer.from(data['tls.key'] ?? '', 'base64').toString() };
  };
  try {
    return await read();
  } catch (err) {
    if ((err as { code?: number }).code !== 404) throw err;
  }
  const fresh = await generate();
  try {
    await api.createNamespacedSecret({
      namespace,
      body: {
        metadata: { name, namespace, labels: { 'app.kubernetes.io/part-of': 'mast' } },
        type: 'kubernetes.io/tls',
        data: { 'tls.crt': Buffer.from(fresh.cert).toString('base64'), 'tls.key': Buffer.from(fresh.key).toString('base64') },
      },
    });
    return fresh;
  } catch (err) {
    if ((err as { code?: number }).code === 409) return read();
    throw err;
  }
}

/**
 * A proxy's identity checked with a TokenReview: the bearer token must be the service account
 * token of the namespace and service account the proxy says it runs as. Answers are cached for a
 * minute per token and identity.
 */
export function tokenReviewVerifier(
  kc: k8s.KubeConfig,
  audience?: string,
): (bearer: string | undefined, identity: { namespace: string; serviceAccount?: string }) => Promise<string | undefined> {
  const api = kc.makeApiClient(k8s.AuthenticationV1Api);
  const cache = new Map<string, { at: number; answer: string | undefined }>();
  return async (bearer, identity) => {
    if (!bearer) return 'no service account token';
    const expected = `system:serviceaccount:${identity.namespace}:${identity.serviceAccount ?? 'default'}`;
    const key = `${expected}|${bearer}`;
    const hit = cache.get(key);
    if (hit && Date.now() - hit.at < 60_000) return hit.answer;
    const review = await api.createTokenReview({
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenReview',
        spec: { token: bearer, ...(audience ? { audiences: [audience] } : {}) },
      },
    });
    const user = review.status?.user?.username;
    const answer = !review.status?.authenticated
      ? `the token is not valid (${review.status?.error ?? 'not authenticated'})`
      : user !== expected
        ? `the token is ${user}'s, not ${expected}'s`
        : undefined;
    cache.set(key, { at: Date.now(), answer });
    if (cache.size > 10_000) cache.clear();
    return answer;
  };
}
