/**
 * mastd: `node mastd.js --source kubernetes` in a cluster (informers, a leader Lease, Events on
 * rejected resources), or `--watch <dir>` on files (`mast local`, tests).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runMain, SECRET_ON_ARGV, untilSignal } from '../contract/process';
import { isAnalysisWorker, serveAnalysis, workerAnalyzer } from './analysis-worker';
import { hostname } from 'node:os';
import { KubeConfig } from '@kubernetes/client-node';
import type { KubeObject } from '../../api';
import { FileSource } from './file-source';
import { KubeSource } from './kube-source';
import { LeaderElector, RejectionEvents, sharedCaSecret, tokenReviewVerifier } from './kube-status';
import { CertificateAuthority, type PluggedCa } from './ca';
import { readCacertsDir } from './cacerts';
import { Mastd } from './mastd';
import { scrapedCounter, scrapedGauge } from './pilot-metrics';
import type { Registry } from 'prom-client';
import { pushNames } from './push-names';
import { RootConfigMaps } from './root-configmaps';
import { rootNamespaces } from './root-namespaces';
import { CACERTS_DIR, PORTS, SYSTEM_NAMESPACE } from '../../api/well-known';
import { DEFAULT_TRUST_DOMAIN } from '../../api/trust-domain';

const HELP = `mastd: the mast control plane

Usage: mastd --source kubernetes [--kubeconfig <file>] [options]
       mastd --watch <file|dir> [--watch ...] [options]

Options:
  --watch <file|dir>        mesh YAML to serve (re-read on change)
  --push-port <n>           push server for proxies (default ${PORTS.push})
  --monitoring-port <n>     /ready /metrics /debug/analyze /debug/syncz (default ${PORTS.monitoring})
  --host <addr>             listen address (default 127.0.0.1; 0.0.0.0 with --source kubernetes)
  --token-file <f>          bearer token proxies must present, read from this file (--token is refused)
  --debounce-ms <n>         batch edits within this window (default 100)
  --source kubernetes       watch the cluster (in-cluster config, or --kubeconfig / KUBECONFIG)
  --kubeconfig <file>       kubeconfig for --source kubernetes
  --watch-timeout-seconds <n>  the API server ends each watch after n s; twice that silent = dead (default 300)
  --namespace <ns>          mastd's namespace, for its leader Lease (default $POD_NAMESPACE or ${SYSTEM_NAMESPACE})
  --trust-domain <td>       SPIFFE trust domain (default cluster.local)
  --ca-cert <f> --ca-key <f>  root CA to sign workload certificates with (default: a plugged-in CA
                            in --cacerts-dir, else the mastd-ca Secret in a cluster, created if
                            missing; a fresh one with --watch)
  --cacerts-dir <dir>       Istio's plug-in CA files (ca-cert.pem, ca-key.pem, root-cert.pem,
                            cert-chain.pem: the cacerts Secret, mounted), used when there, read at
                            start (default ${CACERTS_DIR})
  --cert-ttl-hours <n>      workload certificate lifetime (default 24; at most 8760)
  --push-tls <on|off>       serve the push port over TLS, its certificate from the CA for the
                            names below (default: on with --source kubernetes, off with --watch);
                            proxies then need --control-plane-ca
  --push-names <n,...>      more DNS names or addresses for that certificate (always: mastd,
                            mastd.<ns>, mastd.<ns>.svc, mastd.<ns>.svc.cluster.local, localhost,
                            127.0.0.1, ::1)
  --max-streams-per-identity <n>  push streams one identity (namespace/service account) may hold;
                            the next is refused with MAST_PUSH_OVER_CAP (default 512)
  --help`;

function parseOptions(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    options: {
      watch: { type: 'string', multiple: true },
      'push-port': { type: 'string', default: String(PORTS.push) },
      'monitoring-port': { type: 'string', default: String(PORTS.monitoring) },
      host: { type: 'string' },
      token: { type: 'string' },
      'token-file': { type: 'string' },
      'debounce-ms': { type: 'string', default: '100' },
      source: { type: 'string' },
      kubeconfig: { type: 'string' },
      'watch-timeout-seconds': { type: 'string', default: '300' },
      namespace: { type: 'string' },
      'trust-domain': { type: 'string', default: DEFAULT_TRUST_DOMAIN },
      'ca-cert': { type: 'string' },
      'ca-key': { type: 'string' },
      'cacerts-dir': { type: 'string', default: CACERTS_DIR },
      'cert-ttl-hours': { type: 'string', default: '24' },
      'push-tls': { type: 'string' },
      'push-names': { type: 'string' },
      'max-streams-per-identity': { type: 'string', default: '512' },
      help: { type: 'boolean' },
    },
  });
}

/** What each of the Kubernetes source's counters counts (mastd_kubernetes_<name>_total): one entry per counter, or tsc fails. */
const KUBE_COUNTERS: Record<keyof KubeSource['counters'], string> = {
  lists: 'lists of a kind by an informer (its start, each re-list)',
  errors: 'errors of an informer',
  restarts: 'informers restarted after an error',
  stalls: 'informers restarted because their watch went silent',
};

export async function main(argv: string[]): Promise<number> {
  // The bundle (one .js file) runs its analysis on a worker thread started from itself; from sources, in-process.
  const analyze = __filename.endsWith('.js') ? workerAnalyzer(__filename) : undefined;
  const analyzerMetrics = (registry: Registry) => {
    if (analyze) scrapedCounter(registry, 'mastd_analyses_on_worker_total', 'Whole-mesh analyses run on the worker thread.', analyze.done);
  };
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(argv);
  } catch (err) {
    // An unknown or misspelt flag (say, --token-fil) must not start a mastd without what it meant.
    console.error(`mastd: ${(err as Error).message} (see --help)`);
    return 2;
  }
  const { values: o } = parsed;
  if (o.help) {
    console.log(HELP);
    return 0;
  }
  if (o.token !== undefined) {
    console.error(`mastd: ${SECRET_ON_ARGV}`);
    return 2;
  }
  const token = o['token-file'] ? readFileSync(o['token-file'] as string, 'utf8').trim() : undefined;
  const log = (line: string) => console.error(`${new Date().toISOString()} ${line}`);
  const debounceMs = Number(o['debounce-ms']);
  const trustDomain = o['trust-domain'] as string;
  const ttlHours = Number(o['cert-ttl-hours']);
  if (!(ttlHours > 0 && ttlHours <= 8760)) {
    console.error(`mastd: --cert-ttl-hours must be a number of hours above 0, at most 8760, not "${o['cert-ttl-hours']}"`);
    return 2;
  }
  const certificateTtlMs = ttlHours * 3_600_000;
  const pushTlsFlag = (o['push-tls'] as string | undefined) ?? (o.source === 'kubernetes' ? 'on' : 'off');
  if (pushTlsFlag !== 'on' && pushTlsFlag !== 'off') {
    console.error(`mastd: --push-tls must be on or off, not "${pushTlsFlag}"`);
    return 2;
  }
  const maxStreamsPerIdentity = Number(o['max-streams-per-identity']);
  if (!Number.isInteger(maxStreamsPerIdentity) || maxStreamsPerIdentity < 1) {
    console.error(`mastd: --max-streams-per-identity must be a whole number above 0, not "${o['max-streams-per-identity']}"`);
    return 2;
  }
  const ownNamespace = (o.namespace as string | undefined) ?? process.env.POD_NAMESPACE ?? SYSTEM_NAMESPACE;
  let pushTls: ReturnType<typeof pushNames> | undefined;
  try {
    if (pushTlsFlag === 'on') pushTls = pushNames(ownNamespace, o['push-names'] as string | undefined);
  } catch (err) {
    console.error(`mastd: ${(err as Error).message}`);
    return 2;
  }
  const fromFiles =
    o['ca-cert'] && o['ca-key']
      ? { certPem: readFileSync(o['ca-cert'] as string, 'utf8'), keyPem: readFileSync(o['ca-key'] as string, 'utf8') }
      : readCacertsDir(o['cacerts-dir'] as string);
  const generate = async () => {
    const ca = await CertificateAuthority.generate(trustDomain);
    return { cert: ca.rootPem, key: ca.rootKeyPem };
  };
  /** A root kept as the mastd-ca Secret holds it (tls.crt, tls.key), as the CA that signs. */
  const asPlugged = ({ cert, key }: { cert: string; key: string }): PluggedCa => ({ certPem: cert, keyPem: key });
  let caPem: Promise<PluggedCa>;
  let mastd: Mastd;
  let stopExtra: () => void = () => {};
  if (o.source === 'kubernetes') {
    const kc = new KubeConfig();
    if (o.kubeconfig) kc.loadFromFile(o.kubeconfig as string);
    else kc.loadFromDefault();
    caPem = fromFiles ? Promise.resolve(fromFiles) : sharedCaSecret(kc, ownNamespace, generate).then(asPlugged);
    const leader = new LeaderElector(kc, {
      namespace: ownNamespace,
      identity: process.env.POD_NAME ?? `mastd-${hostname()}-${process.pid}`,
      log,
    });
    const events = new RejectionEvents(kc, () => leader.leader, log);
    const source = new KubeSource(kc, {
      debounceMs,
      watchTimeoutSeconds: Number(o['watch-timeout-seconds']),
      log,
      namespace: ownNamespace,
    });
    const byKey = (objects: readonly KubeObject[]) =>
      new Map(objects.map((x) => [`${x.kind}/${x.metadata?.namespace ?? 'default'}/${x.metadata?.name}`, x]));
    mastd = new Mastd({
      analyze,
      pushTls,
      source,
      token,
      log,
      certificateTtlMs,
      maxStreamsPerIdentity,
      trustDomain,
      // Without --token-file, each proxy proves its identity with its service-account token.
      ...(token ? {} : { verify: tokenReviewVerifier(kc) }),
      onRejected: (rejected, received) => {
        const objects = byKey(received);
        void events.report(rejected, (f) => objects.get(`${f.kind}/${f.namespace ?? 'default'}/${f.name}`));
      },
      extraMetrics: (registry) => {
        analyzerMetrics(registry);
        scrapedGauge(registry, 'mastd_leader', '1 while this mastd holds the leader Lease, else 0.', () => (leader.leader ? 1 : 0));
        for (const k of Object.keys(KUBE_COUNTERS) as Array<keyof typeof KUBE_COUNTERS>)
          scrapedCounter(registry, `mastd_kubernetes_${k}_total`, `Kubernetes watches: ${KUBE_COUNTERS[k]}.`, () => source.counters[k]);
      },
    });
    leader.start();
    // Every namespace gets mastd's root (the proxies there verify the push port with it): checked
    // every 2 s against what was written, read back from the API server every 5 minutes.
    const roots = new RootConfigMaps(kc, { isLeader: () => leader.leader, log });
    let ticks = 0;
    const distribute = setInterval(() => {
      if (++ticks % 150 === 0) roots.resync();
      if (mastd.ca && mastd.snapshot) void roots.publish(rootNamespaces(mastd.snapshot.objects), mastd.ca.rootPem);
    }, 2000);
    stopExtra = () => (leader.stop(), clearInterval(distribute));
  } else {
    const watch = o.watch as string[] | undefined;
    if (!watch?.length) {
      console.error('mastd: --watch <file|dir> or --source kubernetes is required (see --help)');
      return 2;
    }
    if (!token) {
      // In a cluster each proxy proves its identity by TokenReview; on files only a shared token can.
      console.error(
        'mastd: --watch needs --token-file: without it any process that reaches the push port could take a workload certificate for any identity',
      );
      return 2;
    }
    caPem = fromFiles ? Promise.resolve(fromFiles) : generate().then(asPlugged);
    mastd = new Mastd({
      source: new FileSource(watch, debounceMs),
      token,
      log,
      defaultIngressGateway: true,
      certificateTtlMs,
      analyze,
      extraMetrics: analyzerMetrics,
      pushTls,
      maxStreamsPerIdentity,
      trustDomain,
    });
  }
  // Certificates are signed once the root is here; configs flow meanwhile.
  caPem
    .then(async (plugged) => {
      if (!plugged.certPem.trim() || !plugged.keyPem.trim()) throw new Error('the CA has no certificate or key (tls.crt / tls.key)');
      await mastd.useCa(await CertificateAuthority.plugged(trustDomain, plugged));
      log(
        `certificate authority ready (trust domain ${trustDomain})${pushTls ? `; push port serving TLS for ${[...pushTls.names, ...pushTls.addresses].join(', ')}` : ''}`,
      );
    })
    .catch((err: Error) => log(`no certificate authority: ${err.message}; proxies get no certificates`));
  const host = (o.host as string | undefined) ?? (o.source === 'kubernetes' ? '0.0.0.0' : '127.0.0.1');
  const ports = await mastd.start(Number(o['push-port']), Number(o['monitoring-port']), host);
  log(
    `mastd started: push ${ports.pushPort}${pushTls ? ' (TLS, once the CA is ready)' : ' (plain text)'}, monitoring ${ports.monitoringPort}${o.source === 'kubernetes' ? ' (ready once every kind has been listed)' : ''}`,
  );
  await untilSignal(async () => {
    stopExtra();
    await mastd.stop();
    await analyze?.close();
  });
  return 0;
}

if (isAnalysisWorker()) serveAnalysis();
else if (require.main === module) runMain('mastd', main);
