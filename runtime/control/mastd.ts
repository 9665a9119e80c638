/**
 * mastd wiring: a config source → validation on ingest → snapshot → the push server, plus
 * the monitoring endpoints. Used by the `mastd` process and by tests in-process.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { locateFindings, validate, type Finding, type KubeObject } from '../../api';
import type { Analyzer } from './analysis-worker';
import { ingest, type IngestMemo } from './ingest';
import { CompileCache, buildIndex, configFor, jwksUris, makeSnapshot, seal, type Snapshot } from '../compile';
import { meshConfigOf } from '../compile/mesh-config';
import { PushServer } from './push-server';
import type { CertificateAuthority } from './ca';
import { renewalDelayMs } from '../contract/renewal';
import type { ProxyIdentity } from '../contract/push-protocol';
import type { ConfigSource } from './file-source';
import { JwksFetcher, type JwksFetcherOptions } from './jwks';
import { ConfigEvents } from './config-events';
import type { Registry } from 'prom-client';
import { mastdRegistry, type PushTrigger } from './pilot-metrics';

export interface MastdOptions {
  readonly source: ConfigSource;
  readonly token?: string;
  readonly log?: (line: string) => void;
  /** Local mode assumes the default ingress gateway exists, as `mast validate` does. */
  readonly defaultIngressGateway?: boolean;
  /**
   * Runs on the accepted objects before they become a snapshot (`mast local` starts the
   * workloads' sidecars here and points their endpoints at them). Updates are applied in order.
   */
  readonly prepare?: (objects: KubeObject[]) => Promise<KubeObject[]>;
  /**
   * What a proxy is compiled for, from the identity its hello gave (`mast local`: the gateway's
   * ports as the Gateways now have them, where its `--port-map` said those at its start). @default - the hello's
   */
  readonly compileIdentity?: (identity: ProxyIdentity) => ProxyIdentity;
  /** Checks each proxy's identity against its credentials (TokenReview in a cluster). */
  readonly verify?: (bearer: string | undefined, identity: ProxyIdentity) => Promise<string | undefined>;
  /** Quiet time after an update before the whole-mesh analysis runs. @default 250 */
  readonly analysisDelayMs?: number;
  /** Lifetime of workload certificates. @default 24 h */
  readonly certificateTtlMs?: number;
  /** Registers more families in mastd's registry (/metrics), read at scrape time (`scrapedCounter`, `scrapedGauge`). */
  readonly extraMetrics?: (registry: Registry) => void;
  /** Told about the rejected resources after every update (in Kubernetes: Events on them), with the objects as received. */
  readonly onRejected?: (rejected: readonly Finding[], received: readonly KubeObject[]) => void;
  /** Runs the whole-mesh analysis (the bundled mastd: on a worker thread). @default - in-process */
  readonly analyze?: Analyzer;
  /**
   * Serve the push port over TLS, with a certificate from the CA for these names and addresses
   * (issued when `useCa` is called, renewed at half its life). @default - plain-text HTTP/2
   */
  readonly pushTls?: { readonly names: readonly string[]; readonly addresses: readonly string[] };
  /** Push streams one identity may hold at once (PushServerOptions). @default 512 */
  readonly maxStreamsPerIdentity?: number;
  /** The RequestAuthentication `jwksUri` fetcher's settings (timeouts, refresh). @default JwksFetcher's */
  readonly jwks?: Omit<JwksFetcherOptions, 'onChange' | 'log'>;
  /**
   * The trust domain mastd signs workload certificates in (its `--trust-domain`): the first of the
   * trust domain bundle AuthorizationPolicy principals are compiled with, whatever the mesh config says.
   * @default - the mesh config's trustDomain, else cluster.local
   */
  readonly trustDomain?: string;
}

export class Mastd {
  snapshot?: Snapshot;
  /** The current snapshot's MeshIndex, in the cache its configs are compiled with (a new one per snapshot). */
  private compiled?: CompileCache;
  findings: Finding[] = [];
  rejected: Finding[] = [];
  private lastGood = new Map<string, KubeObject>();
  private readonly ingestMemo: IngestMemo = new Map();
  private version = 0;
  readonly push: PushServer;
  /** Signs workload certificates (and the push port's) once `useCa` gave it. */
  ca?: CertificateAuthority;
  private servingRenewal?: NodeJS.Timeout;
  private monitoring?: http.Server;
  private updates = Promise.resolve();
  /** Updates received and not yet published. */
  private queued = 0;
  /** What changed between updates, and why pushes happened, for the `pilot_*` families. */
  private readonly events = new ConfigEvents();
  private readonly triggers = new Map<PushTrigger, number>();
  private internalErrors = 0;
  /** The keys of every RequestAuthentication `jwksUri`, pushed inline (a refresh that changes them republishes). */
  readonly jwks: JwksFetcher;
  /** Every family /metrics serves. */
  readonly metrics: Registry;

  constructor(private readonly options: MastdOptions) {
    this.jwks = new JwksFetcher({ ...options.jwks, onChange: () => this.refresh('config'), log: options.log });
    this.push = new PushServer({
      token: options.token,
      verify: options.verify,
      log: options.log,
      configFor: (identity) => this.compiled && configFor(this.compiled, this.options.compileIdentity?.(identity) ?? identity),
      tls: options.pushTls !== undefined,
      maxStreamsPerIdentity: options.maxStreamsPerIdentity,
      sign: async (identity, csr) => {
        if (!this.ca) throw new Error('the certificate authority is not ready');
        return this.ca.sign(
          csr,
          { namespace: identity.namespace, serviceAccount: identity.serviceAccount ?? 'default' },
          options.certificateTtlMs,
        );
      },
    });
    this.metrics = mastdRegistry({
      counters: this.push.counters,
      histograms: this.push.histograms,
      connected: () => this.push.statuses().length,
      rejectedResources: () => this.rejected.length,
      triggers: this.triggers,
      internalErrors: () => this.internalErrors,
      events: this.events,
      jwks: () => this.jwks.stats(),
    });
    options.extraMetrics?.(this.metrics);
  }

  /** The certificate authority (generated or loaded at start-up); with `pushTls`, the push port's certificate comes from it. */
  async useCa(ca: CertificateAuthority): Promise<void> {
    this.ca = ca;
    clearTimeout(this.servingRenewal);
    const tls = this.options.pushTls;
    if (!tls) return;
    const serving = await ca.serving(tls.names, tls.addresses, this.options.certificateTtlMs);
    if (this.ca !== ca) return;
    this.push.setCredentials(serving.certificate, serving.key);
    this.servingRenewal = setTimeout(
      () => void this.useCa(ca).catch((err: Error) => this.options.log?.(`push port certificate not renewed: ${err.message}`)),
      renewalDelayMs(serving.expiresAt),
    );
    this.servingRenewal.unref();
  }

  async start(pushPort: number, monitoringPort: number, host = '127.0.0.1'): Promise<{ pushPort: number; monitoringPort: number }> {
    const push = await this.push.listen(pushPort, host);
    this.monitoring = http.createServer((req, res) => this.serveMonitoring(req, res));
    await new Promise<void>((r) => this.monitoring!.listen(monitoringPort, host, r));
    this.options.source.start((update) => {
      this.queued++;
      this.updates = this.updates
        .then(() => this.onUpdate(update.objects, update.findings))
        .finally(() => this.queued--)
        .catch((err) => {
          this.internalErrors++;
          this.options.log?.(`update failed, keeping snapshot ${this.snapshot?.version ?? 'none'}: ${(err as Error).message}`);
        });
    });
    return { pushPort: push, monitoringPort: (this.monitoring.address() as AddressInfo).port };
  }

  /** The objects of the last update, as validation accepted them (before `prepare`). */
  private accepted?: KubeObject[];

  /**
   * A new snapshot of the same objects, `prepare` run again on them, pushed: for what changes
   * outside the config (`mast local`'s supervisor marking a workload not ready, or ready again).
   * Queued behind the updates already received, so it never overtakes an edit. `why` is counted in
   * `pilot_push_triggers`: endpoints' readiness, or new JWKS keys (config).
   */
  refresh(why: PushTrigger = 'endpoint'): void {
    this.queued++;
    this.updates = this.updates
      .then(async () => {
        if (!this.accepted) return;
        await this.publish(this.accepted, 'refreshed', why);
      })
      .finally(() => this.queued--)
      .catch((err) => {
        this.internalErrors++;
        this.options.log?.(`refresh failed, keeping snapshot ${this.snapshot?.version ?? 'none'}: ${(err as Error).message}`);
      });
  }

  /** Resolves once the updates received so far are applied. */
  settled(): Promise<void> {
    return this.updates;
  }

  /** The set-level analysis of the latest snapshot (like `istioctl analyze`): run after the push, off the convergence path. */
  private analysis: Promise<void> = Promise.resolve();

  private async onUpdate(objects: KubeObject[], loadFindings: Finding[]): Promise<void> {
    this.events.observe(objects);
    // Per-resource validation decides what is rejected, before the push; the whole-mesh analysis only reports.
    const result = ingest(objects, this.lastGood, {
      defaultIngressGateway: this.options.defaultIngressGateway,
      analyze: false,
      memo: this.ingestMemo,
      seal,
    });
    this.lastGood = new Map(result.lastGood);
    this.rejected = result.rejected;
    for (const f of [...loadFindings, ...result.rejected])
      this.options.log?.(`rejected ${f.kind} ${f.namespace ?? ''}/${f.name} ${f.path}: ${f.code} ${f.message}`);
    if (result.rejected.length) this.options.onRejected?.(result.rejected, objects);
    this.accepted = result.objects;
    await this.publish(result.objects, `${result.objects.length} objects, ${result.rejected.length} rejected`, 'config');
    this.scheduleAnalysis(result.objects, loadFindings);
  }

  /** `prepare`d accepted objects become the next snapshot, with a compile cache of its own, pushed. */
  private async publish(accepted: KubeObject[], what: string, why: PushTrigger): Promise<void> {
    const prepared = this.options.prepare ? await this.options.prepare(accepted) : accepted;
    // New jwksUris are fetched before the snapshot (bounded by the fetch timeout), so its configs carry their keys.
    await this.jwks.track(jwksUris(prepared));
    this.snapshot = makeSnapshot(prepared, `v${++this.version}`, this.jwks.current());
    this.options.log?.(`snapshot ${this.snapshot.version}: ${what}`);
    this.compiled = new CompileCache(buildIndex(this.snapshot, { trustDomain: this.options.trustDomain }));
    this.noteTrustDomain(prepared);
    this.triggers.set(why, (this.triggers.get(why) ?? 0) + 1);
    this.push.publish();
  }

  private trustDomainNoted?: unknown;

  /** A mesh config naming another trust domain than the one mastd signs in is said once per value: mastd's flag decides until a restart with it. */
  private noteTrustDomain(objects: readonly KubeObject[]): void {
    const named = meshConfigOf(objects)?.trustDomain;
    const own = this.options.trustDomain;
    if (own === undefined || named === undefined || named === own || named === this.trustDomainNoted) return;
    this.trustDomainNoted = named;
    this.options.log?.(
      `the mesh config's trustDomain ${JSON.stringify(named)} is not the trust domain workload certificates are signed in (${own}, --trust-domain): restart mastd with --trust-domain ${String(named)} to move to it`,
    );
  }

  private analysisTimer?: NodeJS.Timeout;
  private analysisRound = 0;
  private analysisDone?: () => void;

  /**
   * The whole-mesh analysis takes seconds on a large mesh: it waits until edits pause (so it never
   * delays a push or the ACKs that follow), and /debug/analyze waits for it.
   */
  private scheduleAnalysis(objects: KubeObject[], loadFindings: Finding[]): void {
    clearTimeout(this.analysisTimer);
    if (!this.analysisDone) this.analysis = new Promise((resolve) => (this.analysisDone = resolve));
    const delay = this.options.analysisDelayMs ?? 250;
    const since = Date.now();
    const run = () => {
      // It takes CPU (in-process: the event loop): not while an update is on its way or ACKs of a push are coming in (for at most 10 s).
      if ((this.push.converging || this.queued > 0) && Date.now() - since < 10_000)
        return void (this.analysisTimer = setTimeout(run, delay));
      const round = ++this.analysisRound;
      const options = { defaultIngressGateway: this.options.defaultIngressGateway };
      const analyze = this.options.analyze ?? (async (o: readonly KubeObject[], opts: typeof options) => validate(o, opts));
      // A newer analysis may have been asked for meanwhile: only the newest one's answer counts.
      const newest = () => round === this.analysisRound;
      void analyze(objects, options)
        .then(
          (found) => void (newest() && (this.findings = [...loadFindings, ...locateFindings(found, objects)])),
          (err: Error) => this.options.log?.(`analysis failed: ${err.message}`),
        )
        .finally(() => {
          if (!newest()) return;
          this.analysisDone?.();
          this.analysisDone = undefined;
        });
    };
    this.analysisTimer = setTimeout(run, delay);
  }

  /** /ready /metrics /debug/analyze /debug/syncz (also served on `mast local`'s admin port). */
  serveMonitoring(req: http.IncomingMessage, res: http.ServerResponse): void {
    const json = (v: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(v, null, 2));
    };
    switch (new URL(req.url ?? '/', 'http://x').pathname) {
      case '/ready':
        res.writeHead(this.snapshot ? 200 : 503);
        return void res.end(this.snapshot ? 'ready\n' : 'no snapshot yet\n');
      case '/debug/analyze':
        return void this.analysis.then(() =>
          json({ version: this.snapshot?.version ?? null, rejected: this.rejected, findings: this.findings }),
        );
      case '/debug/ca':
        return json(this.ca ? { trustDomain: this.ca.trustDomain, root: this.ca.rootPem } : { trustDomain: null, root: null });
      case '/debug/configz':
        return json({
          version: this.snapshot?.version ?? null,
          objects: (this.snapshot?.objects ?? []).map((x) => `${x.kind} ${x.metadata?.namespace ?? ''}/${x.metadata?.name}`),
        });
      case '/debug/syncz':
        return json({ version: this.snapshot?.version ?? null, proxies: this.push.statuses() });
      case '/metrics':
        return void this.metrics.metrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': this.metrics.contentType });
            res.end(text);
          },
          (err: Error) => {
            res.writeHead(500);
            res.end(`metrics not collected: ${err.message}\n`);
          },
        );
      default:
        res.writeHead(404);
        res.end('not found: /ready /metrics /debug/analyze /debug/configz /debug/syncz\n');
    }
  }

  async stop(): Promise<void> {
    this.options.source.stop();
    this.jwks.close();
    clearTimeout(this.servingRenewal);
    await this.updates;
    clearTimeout(this.analysisTimer);
    this.analysisDone?.();
    await this.push.close();
    await new Promise<void>((r) => (this.monitoring ? this.monitoring.close(() => r()) : r()));
  }
}
