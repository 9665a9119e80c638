/**
 * `mast local`: the whole mesh on one machine. mastd runs in this process on the file
 * source; the ingress gateway, one inbound sidecar per local WorkloadEntry and the apps the
 * WorkloadEntries name run as child processes. Every route reaches an app through its
 * sidecar (the WorkloadEntry's port is rewritten to the sidecar's inbound port before
 * compiling), and each app calls out through its own sidecar's outbound port (MAST_OUTBOUND).
 */
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildRegistry,
  DEFAULT_GATEWAY_SECRET_NAMESPACES,
  GATEWAY_POD_LABELS,
  gatewayTopologyFlags,
  loadFiles,
  selects,
  type KubeObject,
} from '../../api';
import { FileSource } from '../control/file-source';
import { CertificateAuthority, type PluggedCa } from '../control/ca';
import { Mastd } from '../control/mastd';
import { pushNames } from '../control/push-names';
import { Bundler, PROXY_ENTRY } from './bundles';
import { originalDstAddon } from './original-dst-addon';
import { assertSidecarCanRead } from './proxy-access';
import { Supervisor } from './supervisor';
import { interceptUnavailable, NetnsTopology, serviceAddresses, type Netns } from './netns';
import { planLocal, throughNamespaces, throughSidecars, withGatewayPod, withHealth, type LocalWorkload } from './workloads';
import { TraceReceiver, withLocalTracing } from './traces';
import { planCredentials, planGatewayCredentials, pluggedCaIn, withoutSecretData, writeCredentials } from './credentials';
import { freePort } from './ports';
import { LocalGateway } from './gateway';
import { PROXY_NODE_FLAGS } from '../contract/process';
import { readGatewayTopology, readTrustDomain } from '../compile/mesh-config';
import { EGRESS_GATEWAY_NAME, EGRESS_GATEWAY_POD_LABELS, GATEWAY_NAME, PORTS, SYSTEM_NAMESPACE } from '../../api/well-known';

/** Where the ports mast local chooses come from (ports.ts); tests take theirs from the same place. */
export { freePort };

/** The gateway's labels, as its pods carry them in a cluster (Istio's two). */
export const GATEWAY_LABELS = GATEWAY_POD_LABELS;

export interface LocalMeshOptions {
  /** Mesh YAML files or directories (and the Secrets its Gateways name as `credentialName`). */
  readonly paths: readonly string[];
  /** Where the Gateways' HTTP server port is served. 0 picks a free port. @default 8080 */
  readonly gatewayPort?: number;
  /** Admin page, the gateway's stats, mastd's debug endpoints. 0 picks a free port. @default 15000 */
  readonly adminPort?: number;
  /** JSON access log lines from every proxy. @default false */
  readonly accessLog?: boolean;
  /** @default 100 */
  readonly debounceMs?: number;
  /** @default - stderr */
  readonly log?: (line: string) => void;
  /** A network namespace per workload with iptables capture, as in a pod (root only). @default false */
  readonly intercept?: boolean;
}

/** A fronted workload: its ports and the names of its processes. */
export interface RunningWorkload {
  readonly workload: LocalWorkload;
  readonly id: string;
  readonly inboundPort: number;
  /** Each port of its Sidecar's ingress listeners (9080) → where its sidecar listens for it on this machine. */
  readonly ingressPorts: Readonly<Record<number, number>>;
  readonly outboundPort: number;
  readonly adminPort: number;
  /** Where its sidecar's admin/stats answer (127.0.0.1, or its namespace's address with --intercept). */
  readonly adminHost: string;
  /** With --intercept: its network namespace. */
  readonly netns?: Netns;
  /** Why its app could not start, if it could not. */
  problem?: string;
  /**
   * Its app process died and is not back (restarted and listening) yet: its endpoint is marked not
   * ready, so it leaves every load balancer at the next push (workloads.ts withHealth).
   */
  appDown?: boolean;
  /** The same for its sidecar: died, and not yet restarted with its config and certificate. */
  sidecarDown?: boolean;
}

/** A workload's sidecar: its identity and its ports. */
function sidecarFlags(r: RunningWorkload): string[] {
  const w = r.workload;
  const labels = Object.entries(w.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return [
    '--mode',
    'sidecar',
    '--namespace',
    w.namespace,
    '--service-account',
    w.serviceAccount,
    ...(labels ? ['--labels', labels] : []),
    ...(w.locality ? ['--locality', w.locality] : []),
    '--outbound-port',
    String(r.outboundPort),
    '--inbound-port',
    String(r.inboundPort),
    ...Object.entries(r.ingressPorts).flatMap(([port, listening]) => ['--ingress-port', `${port}=${listening}`]),
  ];
}

/** A port of this machine for each of `ports`, chosen one after the other. */
async function portsFor(ports: readonly number[]): Promise<Record<number, number>> {
  const out: Record<number, number> = {};
  for (const p of ports) out[p] = await freePort();
  return out;
}

/** Makes a directory and everything in it the user's (a sidecar's Secrets, for the proxy's uid in a namespace). */
function chownTree(dir: string, uid: number): void {
  chownSync(dir, uid, uid);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const at = join(dir, entry.name);
    if (entry.isDirectory()) chownTree(at, uid);
    else chownSync(at, uid, uid);
  }
}

const accepts = (port: number, host = '127.0.0.1') =>
  new Promise<boolean>((resolve) => {
    const s = net.connect(port, host);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });

export class LocalMesh {
  readonly mastd: Mastd;
  readonly token = randomBytes(16).toString('hex');
  readonly workloads = new Map<string, RunningWorkload>();
  /** The ingress gateway: Gateways with `istio: ingressgateway` (its HTTP port on `--gateway-port`). */
  readonly ingress: LocalGateway;
  /**
   * The egress gateway (Istio's `istio-egressgateway`): started when a Gateway first selects
   * `istio: egressgateway`, its Service `istio-egressgateway.mast-system.svc.cluster.local` served
   * by it from then on.
   */
  readonly egress: LocalGateway;
  /** Some Gateway has selected the egress gateway (its Service is in the snapshots from then on). */
  private egressWanted = false;
  private egressLaunched = false;
  /**
   * Each Gateway server port of the ingress gateway → where it is served on this machine. Follows
   * the Gateways: a port added while running gets a free port (the gateway binds it with the config
   * that names it), a port no Gateway has any more is dropped (and stops being served).
   */
  get gatewayPorts(): Record<number, number> {
    return this.ingress.ports;
  }
  get gatewayAdminPort(): number {
    return this.ingress.adminPort;
  }
  /** Where the gateway reads the `credentialName` Secrets of the input (`--credentials-dir`). */
  private get credentialsDir(): string {
    return join(this.dir, 'credentials');
  }
  /**
   * Where a sidecar reads the Secrets its DestinationRules (with a workloadSelector) name: its own
   * directory, holding only its namespace's Secrets that such a rule selecting it names.
   */
  private sidecarCredentials(r: RunningWorkload): string {
    return join(this.dir, 'sidecar-credentials', r.id);
  }
  /** The proxies' spans, received on loopback (OTLP/HTTP) for the page's waterfalls. */
  readonly traces = new TraceReceiver();
  private readonly dir = mkdtempSync(join(tmpdir(), 'mast-local-'));
  private readonly bundler = new Bundler(this.dir);
  private readonly supervisor: Supervisor;
  private readonly log: (line: string) => void;
  /** The trust domain of this run's certificates: the mesh config's `trustDomain` at start (cluster.local by default). */
  private readonly trustDomain: string;
  /** Istio's plug-in CA (a `cacerts` Secret of the input), else a fresh root per run. */
  private readonly pluggedCa?: PluggedCa;
  private readonly reported = new Set<string>();
  private readonly retiring = new Set<Promise<void>>();
  private pushPort = 0;
  /** mastd's root, which the proxies verify its push port with. */
  private readonly rootFile = join(this.dir, 'mastd-root.pem');
  /**
   * The push token, for the proxies to read (`--token-file`): on their command line any local user
   * could read it in /proc/<pid>/cmdline and have mastd sign a certificate for any identity.
   */
  private readonly tokenFile = join(this.dir, 'push-token');
  private readonly topology?: NetnsTopology;
  private serviceHosts: string[] = [];
  /** The SO_ORIGINAL_DST addon the sidecars need in a namespace (copied where uid 1337 can read it). */
  private readonly addon?: string;
  /** Ports inside a namespace, as in a pod. */
  static readonly POD_PORTS = {
    outbound: PORTS.sidecarOutbound,
    inbound: PORTS.sidecarInbound,
    admin: PORTS.proxyAdmin,
    status: PORTS.sidecarStatus,
  } as const;

  constructor(private readonly options: LocalMeshOptions) {
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    if (options.intercept) {
      const why = interceptUnavailable();
      if (why) throw new Error(`--intercept ${why}`);
      this.topology = new NetnsTopology();
      // The proxy runs as uid 1337 inside the namespaces: it must be able to read the bundles.
      chmodSync(this.dir, 0o755);
      this.addon = originalDstAddon(this.dir);
      // A TypeScript entry (this repository) is bundled into this.dir, made readable above; the
      // compiled one (the installed package) runs where npm put it.
      if (PROXY_ENTRY.endsWith('.js')) assertSidecarCanRead(PROXY_ENTRY);
    }
    writeFileSync(this.tokenFile, this.token, { mode: 0o600 });
    // The sidecars in namespaces run as uid 1337, as in a pod: the file is theirs (we are root here).
    if (this.topology) chownSync(this.tokenFile, 1337, 1337);
    this.supervisor = new Supervisor(this.log);
    this.ingress = new LocalGateway(
      { name: GATEWAY_NAME, labels: GATEWAY_LABELS, process: 'gateway', httpPort: options.gatewayPort ?? 8080 },
      this.log,
    );
    this.egress = new LocalGateway({ name: EGRESS_GATEWAY_NAME, labels: EGRESS_GATEWAY_POD_LABELS, process: 'egress gateway' }, this.log);
    // Read once, as istiod reads them at start: a change of trust domain or CA needs a restart (new certificates).
    const input = loadFiles(options.paths).objects;
    this.trustDomain = readTrustDomain(input);
    this.pluggedCa = pluggedCaIn(input);
    this.mastd = new Mastd({
      trustDomain: this.trustDomain,
      source: new FileSource(options.paths, options.debounceMs ?? 100),
      token: this.token,
      log: (line) => (/^snapshot |connected|disconnected/.test(line) ? undefined : this.log(`mastd: ${line}`)),
      defaultIngressGateway: true,
      prepare: (objects) => this.prepare(objects),
      // A gateway is compiled for the ports its Gateways have now, not those of its start.
      compileIdentity: (identity) => {
        const gateway = identity.mode === 'gateway' ? this.gateways().find((g) => selects(g.spec.labels, identity.labels)) : undefined;
        return gateway ? { ...identity, portMap: { ...gateway.ports } } : identity;
      },
      // As in a cluster: the push port speaks TLS, and proxies verify it as mastd.mast-system.svc.
      pushTls: pushNames(SYSTEM_NAMESPACE),
    });
  }

  /** Starts mastd, the workloads of the first snapshot and the gateway; returns the gateway's HTTP port. */
  async start(): Promise<number> {
    // Listening before the first snapshot: its mesh config names this receiver (traces.ts).
    if (!this.topology) await this.traces.listen();
    // A fresh root per run: every proxy gets a workload certificate from it, so sidecars talk mTLS.
    await this.mastd.useCa(
      this.pluggedCa
        ? await CertificateAuthority.plugged(this.trustDomain, this.pluggedCa).catch((err: Error) => {
            throw new Error(`the cacerts Secret cannot sign: ${err.message}`);
          })
        : await CertificateAuthority.generate(this.trustDomain),
    );
    writeFileSync(this.rootFile, this.mastd.ca!.rootPem, { mode: 0o644 });
    // With --intercept the sidecars reach mastd from their namespaces, through the veth links.
    const { pushPort } = await this.mastd.start(0, 0, this.topology ? '0.0.0.0' : '127.0.0.1');
    this.pushPort = pushPort;
    await this.mastd.settled();
    if (!this.mastd.snapshot) throw new Error('mastd has no snapshot: the mesh could not be read');
    await this.startGateway(this.ingress, this.mastd.snapshot.objects);
    await this.launchEgress(this.mastd.snapshot.objects);
    return this.gatewayPort;
  }

  get gatewayPort(): number {
    return this.ingress.httpPort;
  }

  /**
   * Starts a gateway's proxy on the ports planned from the snapshot so far (the ingress gateway's
   * HTTP one on `--gateway-port`); a pod reads its proxy config at start, so the mesh config's
   * `gatewayTopology` is read once here and a later change needs a restart, as in Istio.
   */
  private async startGateway(gateway: LocalGateway, objects: readonly KubeObject[]): Promise<void> {
    gateway.adminPort = await freePort();
    const proxy = await this.bundler.file(PROXY_ENTRY);
    this.supervisor.start({
      name: gateway.spec.process,
      args: [
        ...PROXY_NODE_FLAGS,
        proxy,
        ...this.proxyFlags(gateway.id, gateway.adminPort),
        ...gateway.flags(),
        // The input's Secrets, written there as kubelet mounts them; a changed one is served within a second.
        '--credentials-dir',
        this.credentialsDir,
        '--credentials-reload-seconds',
        '1',
        ...gatewayTopologyFlags(readGatewayTopology(objects)),
      ],
    });
  }

  /** The gateways running (the egress gateway once some Gateway selected it). */
  private gateways(): LocalGateway[] {
    return this.egressLaunched ? [this.ingress, this.egress] : [this.ingress];
  }

  /** Starts the egress gateway once wanted, and once mastd's push port is known. */
  private async launchEgress(objects: readonly KubeObject[]): Promise<void> {
    if (!this.egressWanted || this.egressLaunched || !this.pushPort) return;
    this.egressLaunched = true;
    await this.startGateway(this.egress, objects);
  }

  private proxyFlags(id: string, adminPort: number, controlPlane = '127.0.0.1'): string[] {
    return [
      '--control-plane',
      `${controlPlane}:${this.pushPort}`,
      '--control-plane-ca',
      this.rootFile,
      '--control-plane-name',
      'mastd.mast-system.svc',
      '--token-file',
      this.tokenFile,
      '--id',
      id,
      '--admin-port',
      String(adminPort),
      '--drain-seconds',
      '1',
      '--access-log',
      this.options.accessLog ? '-' : 'off',
      // Someone is watching mast local's lines as they come: a tenth of a second, not a proxy's default second.
      '--access-log-flush-ms',
      '100',
    ];
  }

  /** Runs before each snapshot: start what is new, restart what changed, retire what went away. */
  private async prepare(input: KubeObject[]): Promise<KubeObject[]> {
    await this.ingress.plan(input);
    await this.egress.plan(input);
    // The egress gateway runs from the first Gateway that selects it on (ports bound as configs name them).
    if (this.egress.servers(input).length) this.egressWanted = true;
    await this.launchEgress(input);
    // Both gateways read one directory: the Secrets their own Gateways name (the egress gateway's once it runs).
    const credentials = planGatewayCredentials(input, DEFAULT_GATEWAY_SECRET_NAMESPACES, [
      GATEWAY_LABELS,
      ...(this.egressWanted ? [EGRESS_GATEWAY_POD_LABELS] : []),
    ]);
    writeCredentials(this.credentialsDir, credentials);
    for (const line of credentials.problems) if (!this.reported.has(line)) this.reported.add(line), this.log(line);
    // The private keys stay in the gateway's files: mastd's snapshot has the Secrets' names only.
    const objects = withoutSecretData(input);
    const plan = planLocal(objects);
    this.serviceHosts = buildRegistry(objects)
      .services.map((svc) => svc.host)
      .filter((h) => !h.startsWith('*'));
    for (const line of plan.skipped) if (!this.reported.has(line)) this.reported.add(line), this.log(line);
    const wanted = new Map(plan.workloads.map((w) => [w.key, w]));
    const gone: RunningWorkload[] = [];
    for (const [key, r] of this.workloads) {
      const next = wanted.get(key);
      if (next?.fingerprint === r.workload.fingerprint) continue;
      this.workloads.delete(key);
      // A changed workload stops first (its app port is reused); a removed one after the routes moved away.
      if (next) await this.retire(r);
      else gone.push(r);
    }
    for (const w of plan.workloads) if (!this.workloads.has(w.key)) this.workloads.set(w.key, await this.launch(w));
    for (const r of this.workloads.values()) this.writeSidecarCredentials(r, input);
    if (gone.length) {
      const done = new Promise<void>((r) => setTimeout(r, 500))
        .then(() => Promise.all(gone.map((g) => this.retire(g))))
        .then(() => undefined);
      this.retiring.add(done);
      void done.then(() => this.retiring.delete(done));
    }
    const down = (key: string) => this.workloads.get(key)?.appDown === true || this.workloads.get(key)?.sidecarDown === true;
    // The egress gateway listens on every address here; from a namespace (--intercept) this machine is the far end of its link.
    const hostSide = [...this.workloads.values()].find((r) => r.netns)?.netns?.gateway ?? '127.0.0.1';
    if (this.egressWanted) objects.push(...this.egress.serviceObjects(input, hostSide));
    if (this.topology) {
      // Service names resolve in every namespace, to addresses only iptables ever sees (as ClusterIPs).
      for (const r of this.workloads.values()) if (r.netns) this.topology.hosts(r.netns, this.namesIn(r.workload.namespace));
      return withHealth(
        throughNamespaces(this.withGatewayPods(objects), (key) => this.workloads.get(key)?.netns?.address),
        down,
      );
    }
    // Spans go to this process unless the mesh names a tracing provider of its own.
    return withHealth(
      throughSidecars(
        withLocalTracing(this.withGatewayPods(objects), this.traces.port),
        (key) => this.workloads.get(key)?.inboundPort,
        (key) => this.workloads.get(key)?.ingressPorts,
      ),
      down,
    );
  }

  /**
   * A sidecar's Secrets: those of its namespace that DestinationRules selecting it name as
   * credentialName (Istio's SDS hands a sidecar only those); a credentialName it cannot have is a
   * finding. In a namespace (--intercept) the proxy runs as uid 1337: the files are made its own.
   */
  private writeSidecarCredentials(r: RunningWorkload, input: readonly KubeObject[]): void {
    const plan = planCredentials(input, [r.workload.namespace], r.workload.labels, false);
    const dir = this.sidecarCredentials(r);
    mkdirSync(join(dir, '..'), { recursive: true, mode: 0o711 });
    writeCredentials(dir, plan);
    if (this.topology) chownTree(dir, 1337);
    for (const line of plan.problems) if (!this.reported.has(line)) this.reported.add(line), this.log(line);
  }

  /** Names outside the mesh and their addresses (resolveOutside). */
  private outside: Readonly<Record<string, string>> = {};

  /**
   * With --intercept: names outside the mesh and the addresses they resolve to in the namespaces,
   * as public DNS resolves them in a pod (a ServiceEntry host of the mesh keeps its own virtual
   * address); every namespace's hosts file is rewritten at once.
   */
  resolveOutside(hosts: Readonly<Record<string, string>>): void {
    this.outside = { ...hosts };
    for (const r of this.workloads.values()) if (r.netns) this.topology?.hosts(r.netns, this.namesIn(r.workload.namespace));
  }

  /** The names a namespace resolves: the mesh's services (virtual addresses iptables captures), and the outside world's. */
  private namesIn(namespace: string): Map<string, string> {
    return new Map([...Object.entries(this.outside), ...serviceAddresses(this.serviceHosts, namespace)]);
  }

  /** The gateways as the Pods they are in a cluster (workloads.ts withGatewayPod). */
  private withGatewayPods(objects: readonly KubeObject[]): KubeObject[] {
    const ingress = withGatewayPod(objects);
    return this.egressWanted ? withGatewayPod(ingress, EGRESS_GATEWAY_NAME, EGRESS_GATEWAY_POD_LABELS) : ingress;
  }

  private async launch(w: LocalWorkload): Promise<RunningWorkload> {
    if (this.topology) return this.launchInNamespace(w, this.topology);
    const r: RunningWorkload = {
      workload: w,
      id: `${w.name}.${w.namespace}`,
      inboundPort: await freePort(),
      ingressPorts: await portsFor(w.ingressPorts),
      outboundPort: await freePort(),
      adminPort: await freePort(),
      adminHost: '127.0.0.1',
    };
    // Where a client outside the mesh reaches the pod's ports its Sidecar listens on (a Service's targetPort).
    for (const [port, on] of Object.entries(r.ingressPorts))
      this.log(`WorkloadEntry ${w.key}: its Sidecar's ingress listener ${port} is served on 127.0.0.1:${on}`);
    const proxy = await this.bundler.file(PROXY_ENTRY);
    this.supervisor.start({
      name: `sidecar ${r.id}`,
      args: [
        ...PROXY_NODE_FLAGS,
        proxy,
        ...this.proxyFlags(r.id, r.adminPort),
        ...sidecarFlags(r),
        '--credentials-dir',
        this.sidecarCredentials(r),
        '--app-port',
        String(w.appPort),
      ],
      // The metrics' workload, as injection names a Deployment's: the WorkloadEntry's name (reviews-v1);
      // the pod's name and namespace as the downward API gives an injected sidecar (%ENVIRONMENT(POD_NAME)% in access logs).
      env: { MAST_WORKLOAD_NAME: w.name, POD_NAME: w.name, POD_NAMESPACE: w.namespace },
      ...this.sidecarRestarts(r),
    });
    if (w.run && (await accepts(w.appPort, w.address))) {
      r.problem = `${w.address}:${w.appPort} is already in use by another process (another mast local?), so its app was not started`;
      this.log(`WorkloadEntry ${w.key}: ${r.problem}`);
    } else if (w.run) await this.startApp(r, { MAST_OUTBOUND: `127.0.0.1:${r.outboundPort}`, HOST: w.address });
    return r;
  }

  private async startApp(
    r: RunningWorkload,
    extraEnv: Record<string, string>,
    wrap: (argv: string[]) => string[] = (a) => a,
  ): Promise<void> {
    const w = r.workload;
    try {
      const app = await this.bundler.file(w.run!);
      const env = { PORT: String(w.appPort), SERVICE: w.labels.app ?? w.name, VERSION: w.labels.version ?? 'v1', ...extraEnv, ...w.env };
      const [command, ...args] = wrap([process.execPath, app]);
      // A dead app is restarted, and its endpoint is out of the mesh until it listens again.
      const onExit = () => this.setAppDown(r, true);
      const onRestart = () => void this.whenListening(r).then((up) => up && this.setAppDown(r, false));
      this.supervisor.start({ name: `app ${r.id}`, command, args, env, restart: true, onExit, onRestart });
    } catch (err) {
      r.problem = (err as Error).message;
      this.log(`WorkloadEntry ${w.key}: ${r.problem}`);
    }
  }

  /**
   * As in a pod: the capture rules installed in the workload's namespace, the sidecar as uid 1337
   * on the pod ports, and the app, which calls services by name, with nothing but iptables
   * between it and its sidecar.
   */
  private async launchInNamespace(w: LocalWorkload, topology: NetnsTopology): Promise<RunningWorkload> {
    const P = LocalMesh.POD_PORTS;
    const netns = topology.add();
    const r: RunningWorkload = {
      workload: w,
      id: `${w.name}.${w.namespace}`,
      inboundPort: P.inbound,
      // Captured, as in a pod: its Sidecar's ingress listeners are served on the inbound port, by original destination.
      ingressPorts: {},
      outboundPort: P.outbound,
      adminPort: P.status,
      adminHost: netns.address,
      netns,
    };
    // Before anything starts in it: `ip netns exec` mounts the hosts file only if it exists then.
    topology.hosts(netns, this.namesIn(w.namespace));
    const proxy = await this.bundler.file(PROXY_ENTRY);
    const [ipCmd, ...capture] = topology.exec(netns, [
      process.execPath,
      proxy,
      'capture',
      '--proxy-uid',
      '1337',
      '--outbound-port',
      String(P.outbound),
      '--inbound-port',
      String(P.inbound),
      '--exclude-inbound-ports',
      `${P.status},${P.admin}`,
    ]);
    const installed = spawnSync(ipCmd, capture, { encoding: 'utf8' });
    if (installed.status !== 0) throw new Error(`capture rules for ${w.key} failed: ${installed.stderr.trim()}`);
    const [command, ...args] = topology.exec(
      netns,
      [
        process.execPath,
        ...PROXY_NODE_FLAGS,
        proxy,
        ...this.proxyFlags(r.id, P.admin, netns.gateway),
        ...sidecarFlags(r),
        '--credentials-dir',
        this.sidecarCredentials(r),
        '--status-port',
        String(P.status),
      ],
      1337,
    );
    this.supervisor.start({
      name: `sidecar ${r.id}`,
      command,
      args,
      env: { MAST_ORIGINAL_DST_ADDON: this.addon!, MAST_WORKLOAD_NAME: w.name, POD_NAME: w.name, POD_NAMESPACE: w.namespace },
      ...this.sidecarRestarts(r),
    });
    if (w.run) await this.startApp(r, { HOST: '0.0.0.0' }, (argv) => topology.exec(netns, argv));
    return r;
  }

  private setAppDown(r: RunningWorkload, down: boolean): void {
    if (r.appDown === down || this.workloads.get(r.workload.key) !== r) return;
    r.appDown = down;
    this.log(`WorkloadEntry ${r.workload.key}: ${down ? 'app down: not ready, out of the load balancers' : 'app back: ready'}`);
    this.mastd.refresh();
  }

  /**
   * A sidecar that dies is restarted too (a native sidecar's restartPolicy Always), its workload not
   * ready from its death until the new one runs the current config with a certificate.
   */
  private sidecarRestarts(r: RunningWorkload) {
    const set = (down: boolean) => {
      if (r.sidecarDown === down || this.workloads.get(r.workload.key) !== r) return;
      r.sidecarDown = down;
      this.log(`WorkloadEntry ${r.workload.key}: ${down ? 'sidecar down: not ready, out of the load balancers' : 'sidecar back: ready'}`);
      this.mastd.refresh();
    };
    const serving = async () => {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && !this.stopping && this.workloads.get(r.workload.key) === r) {
        const s = this.mastd.push.statuses().find((p) => p.id === r.id);
        if (s?.acked && s.acked === s.sent && (!this.mastd.ca || s.certificateExpires)) return true;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return false;
    };
    return { restart: true, onExit: () => set(true), onRestart: () => void serving().then((up) => up && set(false)) };
  }

  /** The process id of a child (`gateway`, `sidecar <id>`, `app <id>`), while it runs. */
  pid(name: string): number | undefined {
    return this.supervisor.pid(name);
  }

  /** Set by stop(): nothing is waited for any more. */
  private stopping = false;

  /** Whether the restarted app listens within 30 s (polled every 100 ms; false once the workload was retired or replaced, or the mesh stops). */
  private async whenListening(r: RunningWorkload): Promise<boolean> {
    const deadline = Date.now() + 30_000;
    const host = r.netns?.address ?? r.workload.address;
    while (Date.now() < deadline && !this.stopping && this.workloads.get(r.workload.key) === r) {
      if (await accepts(r.workload.appPort, host)) return true;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return false;
  }

  private async retire(r: RunningWorkload): Promise<void> {
    await Promise.all([this.supervisor.stop(`app ${r.id}`), this.supervisor.stop(`sidecar ${r.id}`)]);
    if (r.netns) this.topology?.remove(r.netns);
  }

  /** What still stands between now and traffic flowing; empty once it can. */
  async notReady(): Promise<string[]> {
    const snapshot = this.mastd.snapshot;
    if (!snapshot) return ['mastd has no snapshot yet'];
    const statuses = new Map(this.mastd.push.statuses().map((s) => [s.id, s]));
    const out: string[] = [];
    for (const id of [...this.gateways().map((g) => g.id), ...[...this.workloads.values()].map((r) => r.id)]) {
      const s = statuses.get(id);
      if (!s) out.push(`${id}: not connected to mastd`);
      else if (s.acked !== snapshot.version)
        out.push(`${id}: has ${s.acked ?? 'no config'}, not ${snapshot.version}${s.nacked ? ` (NACK: ${s.nacked.error})` : ''}`);
      else if (this.mastd.ca && !s.certificateExpires) out.push(`${id}: no workload certificate yet`);
    }
    for (const r of this.workloads.values()) if (r.problem) out.push(`${r.workload.key}: ${r.problem}`);
    for (const r of this.workloads.values())
      if (r.workload.run && !r.problem && !(await accepts(r.workload.appPort, r.netns?.address ?? r.workload.address)))
        out.push(`${r.workload.key}: app not listening on ${r.workload.address}:${r.workload.appPort}`);
    return out;
  }

  /** Resolves when every proxy has ACKed the current snapshot and every app listens. */
  async ready(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const missing = await this.notReady();
      if (missing.length === 0) return;
      if (Date.now() > deadline) throw new Error(`mast local: not ready after ${timeoutMs / 1000} s: ${missing.join('; ')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Admin ports of every proxy, for scraping. */
  proxies(): Array<{ id: string; host: string; adminPort: number }> {
    return [
      ...this.gateways().map((g) => ({ id: g.id, host: '127.0.0.1', adminPort: g.adminPort })),
      ...[...this.workloads.values()].map((r) => ({ id: r.id, host: r.adminHost, adminPort: r.adminPort })),
    ];
  }

  /**
   * What only this process holds, removed at once (its scratch directory, the interception
   * namespaces): for an exit before `stop` could run. The processes it started stop by themselves
   * when it exits (their stdin closes).
   */
  discard(): void {
    this.topology?.teardown();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Drains and stops every process (the gateway first: it stops accepting, and its in-flight requests still reach the apps), then mastd. */
  async stop(): Promise<void> {
    // An app restarting when the mesh stops (a crash loop) is no longer waited for.
    this.stopping = true;
    await Promise.all(this.gateways().map((g) => this.supervisor.stop(g.spec.process)));
    await Promise.all(this.retiring);
    await Promise.all([...this.workloads.values()].map((r) => this.retire(r)));
    await this.supervisor.stopAll();
    await this.mastd.stop();
    await this.traces.close();
    this.discard();
  }
}
