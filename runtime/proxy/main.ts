/**
 * mast-proxy: `node mast-proxy.js --config proxy.json` (a compiled ProxyConfig), or
 * `--mesh <dir>` to compile one from mesh YAML here. The control-plane push client
 * (`--control-plane`) comes with mastd.
 */
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { runMain, SECRET_ON_ARGV, untilSignal } from '../contract/process';
import { reusePortSupported, runWorker, WorkerPool, WORKER_ENV } from './workers';
import { FORWARD_CLIENT_CERT_DETAILS, type ForwardClientCertDetails, type ProxyConfig } from '../contract/proxy-config';
import type { ProxyIdentity } from '../contract/push-protocol';
import type { configFromMesh } from './mesh-file';
import { DEFAULT_LISTENER_DRAIN_MS, MeshProxy } from './mesh-proxy';
import { DEFAULT_MAX_CONNECTIONS } from './listeners';
import { DEFAULT_ACCESS_LOG_FLUSH_MS } from './telemetry';
import { DEFAULT_LIMITS } from './http/head';
import { HTTP2_FLAG_HELP, HTTP2_FLAG_OPTIONS, http2LimitsFromFlags, type Http2FlagError } from './h2/limit-flags';
import { startAdmin, startStatus } from './admin';
import { APP_PROBERS_ENV, parseAppProbers, type AppProbers } from './app-probe';
import { type AppScrape, parseAppScrape, PROMETHEUS_ANNOTATIONS_ENV } from './app-metrics';
import { makeCsrHere, PushClient, type KeyAndCsr } from './push-client';
import { execFile, spawnSync } from 'node:child_process';
import { captureOptionsFromFlags, captureRules } from './capture';
import { GATEWAY_NAME, GATEWAY_POD_LABELS, PORTS, SYSTEM_NAMESPACE } from '../../api/well-known';

const HELP = `mast-proxy: the mast data plane (gateway and sidecar)

Usage: mast-proxy --config <proxy-config.json> [options]
       mast-proxy --mesh <file|dir> --mode gateway|sidecar [options]
       mast-proxy capture [--proxy-uid 1337] [--outbound-port ${PORTS.sidecarOutbound}] [--inbound-port ${PORTS.sidecarInbound}]
                  [--exclude-inbound-ports a,b] [--exclude-outbound-ports a,b]
                  [--exclude-outbound-cidrs c,d] [--dry-run]   (the init container's iptables rules)

Options:
  --control-plane <h:p>    mastd's push server (the config comes from there)
  --control-plane-ca <f>   reach it over TLS, verifying its certificate with this root (PEM,
                           re-read on each connection); without it, plain-text HTTP/2
  --control-plane-name <n> the name its certificate must carry (default: the --control-plane host)
  --token-file <f>         bearer token for mastd, read from this file on each connection (default
                           in a pod: the service-account token, which mastd checks with a
                           TokenReview); never on the command line (--token is refused)
  --id <name>              this proxy's name in proxy-status (default: $POD_NAME.<namespace>, else mode-pid)
  --config <file>          a compiled ProxyConfig (JSON)
  --mesh <file|dir>        mesh YAML to compile here (instead of --config)
  --mode <gateway|sidecar> (default: gateway)
  --labels <k=v,...>       this proxy's labels, as its pod carries them (default for gateways:
                           ${Object.entries(GATEWAY_POD_LABELS)
                             .map(([k, v]) => `${k}=${v}`)
                             .join(',')}, Istio's)
  --service-account <sa>   the identity in its certificate (default: $SERVICE_ACCOUNT, else default)
  --namespace <ns>         (default: $POD_NAMESPACE, else ${SYSTEM_NAMESPACE} for gateways, default for sidecars)
  --locality <r/z/s>       where this proxy runs, region/zone/subzone, for locality load balancing
                           (default: $MAST_LOCALITY, else $MAST_REGION/$MAST_ZONE: its pod's topology
                           labels, which injection passes; else none)
  --port-map <p=l,...>     gateway: Service port = listen port (e.g. 80=8080)
  --outbound-port <n>      sidecar: where outbound traffic reaches the proxy (default ${PORTS.sidecarOutbound})
  --inbound-port <n>       sidecar: inbound listener in front of the app (with --app-port)
  --app-port <n>           sidecar: the app's port on 127.0.0.1
  --ingress-port <p>=<n>   sidecar: listen on <n> for its Sidecar's ingress listener on port <p> (repeatable)
  --admin-port <n>         admin port on 127.0.0.1 (default: ${PORTS.proxyAdmin}; 0 = any)
  --status-port <n>        /healthz/ready and /stats/prometheus on all interfaces (kubelet probes, scrapes),
                           and the app's probes at /app-health/<container>/<livez|readyz|startupz>
                           as $MAST_APP_PROBERS gives them (JSON; sidecar injection writes it); with
                           $MAST_PROMETHEUS_ANNOTATIONS ({scrape,port,path}: the app's prometheus.io/*
                           annotations, moved there by injection) the app's metrics follow the proxy's
  --access-log <-|off|f>   JSON access log to stdout (-) or appended to file f (default: off), while the
                           pushed config has no access log of its own (the mesh config's accessLogFile
                           or a Telemetry's accessLogging replace it); lines the sink cannot take in
                           time are dropped and counted, never held without bound
  --access-log-flush-ms <n>  how long access log lines may wait to be written together (64 KiB are
                           written at once); 0: at the end of each turn of the event loop (default: ${DEFAULT_ACCESS_LOG_FLUSH_MS})
  --drain-seconds <n>      drain time on SIGTERM (default: 5)
  --listener-drain-seconds <n>  how long a listener removed by a config push serves its open
                           connections (Connection: close on each response) (default: 45)
  --max-connections <n>    open client connections per listener at most; past it a new connection
                           is closed at accept (mast_downstream_cx_overflow_total); 0: no limit
                           (default: 16384)
  --header-timeout-seconds <n>  a client must send a whole request head within this, else 408
                           (default: 15)
${HTTP2_FLAG_HELP}
  --workers <n>            gateway: n processes on the same ports (SO_REUSEPORT, Node >= 22.12;
                           one process on older Node, with a log line saying so) (default: 1)
  --credentials-dir <d>    where credentialName Secrets are mounted (a gateway's Gateways, and
                           DestinationRules' for TLS origination), one directory each with
                           tls.crt, tls.key (or cert, key; the CA in ca.crt or cacert, or in
                           <name>-cacert) (default: /etc/mast/credentials)
  --credentials-reload-seconds <s>
                           gateway: how often the credentials are re-read (default: 30)
  --proxy-protocol         gateway listeners expect PROXY protocol v2 (behind an NLB)
  --forward-client-cert <m> gateway: what goes upstream as x-forwarded-client-cert (Istio's
                           gatewayTopology.forwardClientCertDetails): SANITIZE, FORWARD_ONLY,
                           APPEND_FORWARD, SANITIZE_SET or ALWAYS_FORWARD_ONLY (default: SANITIZE_SET)
  --trusted-hops <n>       proxies in front whose x-forwarded-for entries are trusted: the client
                           (authorization remote.ip, source-IP hashing, access log) is the nth
                           entry from the right (default 0: the peer, or the PROXY protocol source)
  --help                   this text`;

const SA_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** `--access-log`: stdout (-), off, or a file appended to (a file that cannot be written loses lines, not the proxy). */
function accessLogSink(flag: string | undefined): Writable | undefined {
  if (!flag || flag === 'off') return undefined;
  if (flag === '-') return process.stdout;
  const file = createWriteStream(flag, { flags: 'a' });
  file.on('error', (err) => console.error(`mast-proxy: access log ${flag}: ${err.message}`));
  return file;
}

/**
 * A command of the bundle run in a short-lived process of itself, its JSON answer on stdout: what
 * it loads (a library, a compiler) then never stays in a proxy that runs for days.
 */
function inHelper<T>(args: string[], timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [__filename, ...args], { timeout: timeoutMs, maxBuffer: 1 << 30 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${err.message} ${stderr}`.trim()));
      try {
        resolve(JSON.parse(stdout) as T);
      } catch {
        reject(new Error(`unreadable answer: ${stdout.slice(0, 80)}`));
      }
    });
  });
}

/** The key and certificate request (`csr`): the X.509 library would take ~13 MB. */
const csrInHelper = () => inHelper<KeyAndCsr>(['csr'], 30_000);

/**
 * `--mesh` compiled as mastd would compile it (`mesh-config`): the YAML parser, the validator and
 * the compiler would take ≈ 2.6 MB at start, ≈ 0.5 MB after load once V8 has grown its heap
 * (measured on Node 24). In place where this is not the bundle (tests).
 */
async function meshConfig(paths: string[], identity: ProxyIdentity): Promise<ReturnType<typeof configFromMesh>> {
  if (!__filename.endsWith('.js')) return (await import('./mesh-file')).configFromMesh(paths, identity);
  return inHelper<ReturnType<typeof configFromMesh>>(['mesh-config', JSON.stringify(identity), ...paths], 60_000).catch((e: Error) => {
    throw new Error(`compiling ${paths.join(', ')} failed: ${e.message}`);
  });
}

function readToken(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function parsePairs(s: string | undefined): Record<string, string> {
  return Object.fromEntries(
    (s ?? '')
      .split(',')
      .filter(Boolean)
      .map((kv) => kv.split('=') as [string, string]),
  );
}

const isPort = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65_535;

/** `--ingress-port 9080=23456` (repeated): a Sidecar ingress listener's port → the port listened on for it; undefined when one is not of that form. */
function ingressPortsOf(flags: readonly string[]): Record<number, number> | undefined {
  const out: Record<number, number> = {};
  for (const flag of flags) {
    const m = /^(\d+)=(\d+)$/.exec(flag);
    if (!m || !isPort(Number(m[1])) || !isPort(Number(m[2]))) return undefined;
    out[Number(m[1])] = Number(m[2]);
  }
  return out;
}

/** Installs the capture rules (iptables-restore / ip6tables-restore), or prints them with --dry-run. */
function capture(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      'proxy-uid': { type: 'string' },
      'outbound-port': { type: 'string' },
      'inbound-port': { type: 'string' },
      'exclude-inbound-ports': { type: 'string' },
      'exclude-outbound-ports': { type: 'string' },
      'exclude-outbound-cidrs': { type: 'string' },
      'dry-run': { type: 'boolean' },
    },
  });
  const { 'dry-run': _dry, ...flags } = values;
  const options = captureOptionsFromFlags(flags);
  for (const [family, tool] of [
    [4, 'iptables-restore'],
    [6, 'ip6tables-restore'],
  ] as const) {
    const rules = captureRules(options, family);
    if (values['dry-run']) {
      process.stdout.write(`# ${tool}\n${rules}`);
      continue;
    }
    const r = spawnSync(tool, ['--noflush'], { input: rules, encoding: 'utf8' });
    if (r.error || r.status !== 0) {
      // IPv6 may be absent from the pod network: only IPv4 is required.
      if (family === 6) {
        console.error(`mast-capture: ip6tables not applied (${r.error?.message ?? r.stderr.trim()}); IPv6 traffic is not captured`);
        continue;
      }
      console.error(`mast-capture: ${tool} failed: ${r.error?.message ?? r.stderr.trim()}`);
      return 1;
    }
  }
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'capture') return capture(argv.slice(1));
  if (argv[0] === 'mesh-config') {
    // The config compiled from mesh YAML (or the findings that stop it) as JSON on stdout, for the proxy that started this process.
    process.stdout.write(
      `${JSON.stringify((await import('./mesh-file')).configFromMesh(argv.slice(2), JSON.parse(argv[1]) as ProxyIdentity))}\n`,
    );
    return 0;
  }
  if (argv[0] === 'csr') {
    // A key and its certificate request as JSON on stdout, for the proxy that started this process.
    process.stdout.write(`${JSON.stringify(await makeCsrHere())}\n`);
    return 0;
  }
  const { values: o } = parseArgs({
    args: argv,
    strict: true,
    options: {
      config: { type: 'string' },
      'control-plane': { type: 'string' },
      'control-plane-ca': { type: 'string' },
      'control-plane-name': { type: 'string' },
      token: { type: 'string' },
      'token-file': { type: 'string' },
      id: { type: 'string' },
      mesh: { type: 'string', multiple: true },
      mode: { type: 'string', default: 'gateway' },
      labels: { type: 'string' },
      namespace: { type: 'string' },
      locality: { type: 'string' },
      'service-account': { type: 'string' },
      'port-map': { type: 'string' },
      'outbound-port': { type: 'string' },
      'inbound-port': { type: 'string' },
      'app-port': { type: 'string' },
      'ingress-port': { type: 'string', multiple: true },
      'admin-port': { type: 'string', default: String(PORTS.proxyAdmin) },
      'status-port': { type: 'string' },
      'access-log': { type: 'string', default: 'off' },
      'access-log-flush-ms': { type: 'string', default: String(DEFAULT_ACCESS_LOG_FLUSH_MS) },
      'drain-seconds': { type: 'string', default: '5' },
      'listener-drain-seconds': { type: 'string', default: String(DEFAULT_LISTENER_DRAIN_MS / 1000) },
      'max-connections': { type: 'string', default: String(DEFAULT_MAX_CONNECTIONS) },
      'header-timeout-seconds': { type: 'string', default: String(DEFAULT_LIMITS.headerTimeoutMs / 1000) },
      'credentials-dir': { type: 'string' },
      'credentials-reload-seconds': { type: 'string' },
      workers: { type: 'string', default: '1' },
      'proxy-protocol': { type: 'boolean' },
      'forward-client-cert': { type: 'string' },
      'trusted-hops': { type: 'string', default: '0' },
      ...HTTP2_FLAG_OPTIONS,
      help: { type: 'boolean' },
    },
  });
  if (o.help) {
    console.log(HELP);
    return 0;
  }
  if (o.token !== undefined) {
    console.error(`mast-proxy: ${SECRET_ON_ARGV}`);
    return 2;
  }
  const mode = o.mode === 'sidecar' ? 'sidecar' : 'gateway';
  // In a pod, the downward API gives these (constructs/pod-security.ts IDENTITY_ENV).
  const env = process.env;
  const namespace = o.namespace ?? env.POD_NAMESPACE ?? (mode === 'gateway' ? SYSTEM_NAMESPACE : 'default');
  const labels = o.labels ? parsePairs(o.labels) : mode === 'gateway' ? { ...GATEWAY_POD_LABELS } : {};
  const id = o.id ?? (env.POD_NAME ? `${env.POD_NAME}.${namespace}` : `${mode}-${process.pid}`);
  const portMapOf = () => Object.fromEntries(Object.entries(parsePairs(o['port-map'])).map(([k, v]) => [Number(k), Number(v)]));
  const locality =
    o.locality || env.MAST_LOCALITY || (env.MAST_REGION || env.MAST_ZONE ? `${env.MAST_REGION ?? ''}/${env.MAST_ZONE ?? ''}` : '');
  const identity = {
    mode,
    namespace,
    labels,
    ...(locality ? { locality } : {}),
    ...(env.NODE_NAME ? { node: env.NODE_NAME } : {}),
    ...((o['service-account'] ?? env.SERVICE_ACCOUNT) ? { serviceAccount: o['service-account'] ?? env.SERVICE_ACCOUNT } : {}),
    portMap: portMapOf(),
    proxyProtocol: o['proxy-protocol'],
    ...(o['forward-client-cert']
      ? { gatewayTopology: { forwardClientCertDetails: o['forward-client-cert'] as ForwardClientCertDetails } }
      : {}),
    ...(o['outbound-port'] ? { outboundPort: Number(o['outbound-port']) } : {}),
    ...(o['inbound-port']
      ? {
          inbound: {
            port: Number(o['inbound-port']),
            ...(o['app-port'] ? { appPort: Number(o['app-port']) } : {}),
            ...(o['ingress-port']?.length ? { ingressPorts: ingressPortsOf(o['ingress-port']) } : {}),
          },
        }
      : {}),
  } as const;
  const badIngress = o['ingress-port']?.find((f) => !ingressPortsOf([f]));
  if (badIngress !== undefined) {
    console.error(`mast-proxy: --ingress-port must be <listener port>=<port to listen on>, both 1-65535, not "${badIngress}"`);
    return 2;
  }
  const xfcc = o['forward-client-cert'];
  if (xfcc !== undefined && !FORWARD_CLIENT_CERT_DETAILS.includes(xfcc as ForwardClientCertDetails)) {
    console.error(`mast-proxy: --forward-client-cert must be one of ${FORWARD_CLIENT_CERT_DETAILS.join(', ')}, not "${xfcc}"`);
    return 2;
  }
  const trustedHops = Number(o['trusted-hops']);
  if (!Number.isInteger(trustedHops) || trustedHops < 0) {
    console.error(`mast-proxy: --trusted-hops must be a whole number of proxies (0 or more), not "${o['trusted-hops']}"`);
    return 2;
  }
  const flushMs = Number(o['access-log-flush-ms']);
  if (!Number.isInteger(flushMs) || flushMs < 0 || flushMs > 60_000) {
    console.error(
      `mast-proxy: --access-log-flush-ms must be a whole number of milliseconds from 0 to 60000, not "${o['access-log-flush-ms']}"`,
    );
    return 2;
  }
  const headerTimeoutMs = Number(o['header-timeout-seconds']) * 1000;
  if (!(headerTimeoutMs > 0) || headerTimeoutMs > 3_600_000) {
    console.error(
      `mast-proxy: --header-timeout-seconds must be a number of seconds above 0, at most 3600, not "${o['header-timeout-seconds']}"`,
    );
    return 2;
  }
  let http2: ReturnType<typeof http2LimitsFromFlags>;
  try {
    http2 = http2LimitsFromFlags(o);
  } catch (e) {
    console.error(`mast-proxy: ${(e as Http2FlagError).message}`);
    return 2;
  }
  const limits = { ...DEFAULT_LIMITS, trustedHops, headerTimeoutMs, http2 };
  let probers: AppProbers;
  let appScrape: AppScrape | undefined;
  try {
    probers = parseAppProbers(env[APP_PROBERS_ENV]);
    appScrape = parseAppScrape(env[PROMETHEUS_ANNOTATIONS_ENV]);
  } catch (e) {
    console.error(`mast-proxy: ${(e as Error).message}`);
    return 2;
  }
  const startStatusPort = (proxy: MeshProxy) =>
    o['status-port'] ? startStatus(proxy, Number(o['status-port']), { probers, appScrape }) : undefined;
  let workers = Number(o.workers);
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) {
    console.error(`mast-proxy: --workers must be a whole number from 1 to 64, not "${o.workers}"`);
    return 2;
  }
  const reloadSeconds = Number(o['credentials-reload-seconds'] ?? 30);
  if (!(reloadSeconds >= 0.1 && reloadSeconds <= 86_400)) {
    console.error(`mast-proxy: --credentials-reload-seconds must be a number from 0.1 to 86400, not "${o['credentials-reload-seconds']}"`);
    return 2;
  }
  if (workers > 1 && mode !== 'gateway') {
    console.error('mast-proxy: --workers is for gateways (a sidecar serves one pod: one process)');
    return 2;
  }
  if (workers > 1 && !reusePortSupported()) {
    console.error(
      `mast-proxy: --workers ${workers} needs SO_REUSEPORT in Node >= 22.12 (this is ${process.version}); serving with one process`,
    );
    workers = 1;
  }
  // A proxy's workload (metrics) is its Deployment: injection names it in $MAST_WORKLOAD_NAME (Istio's
  // ISTIO_META_WORKLOAD_NAME); else a gateway's app.kubernetes.io/name (its `app` label is Istio's shared one).
  const newProxy = () => {
    const proxy = new MeshProxy(
      {
        mode,
        workload:
          env.MAST_WORKLOAD_NAME ?? (mode === 'gateway' ? (labels['app.kubernetes.io/name'] ?? GATEWAY_NAME) : (labels.app ?? 'unknown')),
        namespace,
        labels,
        serviceAccount: identity.serviceAccount ?? 'default',
      },
      accessLogSink(o['access-log']),
      limits,
    );
    if (o['credentials-dir']) proxy.credentialsDir = o['credentials-dir'];
    if (reloadSeconds !== 30) proxy.credentialsReloadMs = reloadSeconds * 1000;
    proxy.listenerDrainMs = Number(o['listener-drain-seconds']) * 1000;
    proxy.accessLogFlushMs = flushMs;
    proxy.maxConnections = Number(o['max-connections']);
    return proxy;
  };
  const log = (line: string) => console.error(`mast-proxy: ${line}`);
  const drainMs = Number(o['drain-seconds']) * 1000;
  if (process.env[WORKER_ENV] && process.send) {
    // A worker of a gateway: configs and certificates come from the first process.
    await runWorker(newProxy(), log);
    return 0;
  }
  if (o['control-plane']) {
    const proxy = newProxy();
    const pool = workers > 1 ? new WorkerPool(proxy, workers - 1, log) : undefined;
    const admin = await startAdmin(proxy, Number(o['admin-port']), { logLevel: 'info' });
    const tokenFile = o['token-file'] ?? (env.KUBERNETES_SERVICE_HOST && existsSync(SA_TOKEN) ? SA_TOKEN : undefined);
    const token = tokenFile ? () => readToken(tokenFile) : undefined;
    const rootFile = o['control-plane-ca'];
    const tls = rootFile
      ? { tls: { root: () => readFileSync(rootFile, 'utf8'), ...(o['control-plane-name'] ? { servername: o['control-plane-name'] } : {}) } }
      : {};
    const client = new PushClient(proxy, {
      address: o['control-plane'],
      token,
      id,
      identity,
      log,
      ...tls,
      ...(__filename.endsWith('.js') ? { makeCsr: csrInHelper } : {}),
    });
    client.start();
    const status = await startStatusPort(proxy);
    console.error(
      `mast-proxy ${mode} started: admin ${(admin.address() as { port: number }).port}, config from ${o['control-plane']}${rootFile ? ' (TLS)' : ''}`,
    );
    await untilSignal(async () => {
      client.stop();
      await Promise.all([proxy.drain(drainMs), pool?.drain(drainMs)]);
      await Promise.all([admin, status].map((s) => new Promise((r) => (s ? s.close(r) : r(undefined)))));
    });
    return 0;
  }
  let config: ProxyConfig;
  if (o.config) config = JSON.parse(readFileSync(o.config, 'utf8'));
  else if (o.mesh) {
    const compiled = await meshConfig(o.mesh, identity);
    if ('errors' in compiled) {
      compiled.errors.forEach((line) => console.error(line));
      return 1;
    }
    compiled.warnings.forEach((line) => console.error(`mast-proxy: ${line}`));
    config = compiled.config;
  } else {
    console.error('mast-proxy: --config or --mesh is required (see --help)');
    return 2;
  }
  const proxy = newProxy();
  proxy.reusePort = workers > 1;
  const result = await proxy.apply(config);
  if (!result.ok) {
    console.error(`mast-proxy: config ${result.version} rejected: ${result.error}`);
    return 1;
  }
  for (const line of proxy.skipped) console.error(`mast-proxy: listener skipped: ${line}`);
  const admin = await startAdmin(proxy, Number(o['admin-port']), { logLevel: 'info' });
  const status = await startStatusPort(proxy);
  const adminPort = (admin.address() as { port: number }).port;
  console.error(
    `mast-proxy ${mode} ready: config ${result.version}, listeners ${config.listeners.map((l) => `${l.name}@${proxy.boundPort(l.name)}`).join(' ')}, admin ${adminPort}`,
  );
  const pool = workers > 1 ? new WorkerPool(proxy, workers - 1, log) : undefined;
  if (pool) log(`${workers} processes on the listener ports`);
  await untilSignal(async () => {
    await Promise.all([proxy.drain(drainMs), pool?.drain(drainMs)]);
    await Promise.all([admin, status].map((s) => new Promise((r) => (s ? s.close(r) : r(undefined)))));
  });
  return 0;
}

if (require.main === module) runMain('mast-proxy', main);
