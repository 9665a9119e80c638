/**
 * A gateway of `mast local` (the ingress gateway, and the egress gateway once some Gateway selects
 * it): which local port serves each Gateway server port, following the Gateways as they change,
 * and the mast-proxy command line that runs it. For the egress gateway, the Service, Pod and
 * EndpointSlice a cluster would have, so sidecars route `istio-egressgateway.<namespace>` to it.
 */
import { selects, type Gateway, type KubeObject } from '../../api';
import { SYSTEM_NAMESPACE } from '../../api/well-known';
import { freePort } from './ports';

export interface LocalGatewaySpec {
  /** Its Deployment's (and service account's) name: `mast-ingressgateway`, `istio-egressgateway`. */
  readonly name: string;
  /** Its pods' labels, which Gateways select it by. */
  readonly labels: Readonly<Record<string, string>>;
  /** Its supervised process's name (`gateway`, `egress gateway`). */
  readonly process: string;
  /** The HTTP server port (80, or the lowest) on this local port from the start (0: a free one). @default - every port free */
  readonly httpPort?: number;
}

export class LocalGateway {
  /** Each Gateway server port → where it is served on this machine. */
  ports: Record<number, number> = {};
  adminPort = 0;
  private httpServerPort = 80;
  private planned = false;

  constructor(
    readonly spec: LocalGatewaySpec,
    private readonly log: (line: string) => void,
  ) {}

  /** The id it connects to mastd with. */
  get id(): string {
    return `${this.spec.name}.${SYSTEM_NAMESPACE}`;
  }

  /** Where its HTTP server port is served (the ingress gateway's `--gateway-port`). */
  get httpPort(): number {
    return this.ports[this.httpServerPort] ?? 0;
  }

  /** The servers of the Gateways that select it. */
  servers(objects: readonly KubeObject[]): Gateway['spec']['servers'] {
    return objects
      .filter((o): o is KubeObject & Gateway => o.kind === 'Gateway')
      .filter((g) => selects(g.spec.selector ?? {}, this.spec.labels))
      .flatMap((g) => g.spec.servers);
  }

  /**
   * A local port for each Gateway server port (run before each snapshot): the HTTP one on
   * `httpPort` from the start when the spec pins one, the others on free ports as they appear; a
   * port gone from every Gateway is dropped (its listener drains).
   */
  async plan(objects: readonly KubeObject[]): Promise<void> {
    const servers = this.servers(objects);
    const next: Record<number, number> = {};
    if (this.spec.httpPort !== undefined) {
      if (!this.planned) {
        const http = servers.filter((s) => s.port.protocol.toUpperCase() === 'HTTP').map((s) => s.port.number);
        this.httpServerPort = http.includes(80) ? 80 : (http.sort((a, b) => a - b)[0] ?? 80);
        this.ports = { [this.httpServerPort]: this.spec.httpPort === 0 ? await freePort() : this.spec.httpPort };
      }
      next[this.httpServerPort] = this.ports[this.httpServerPort];
    }
    const label = this.spec.process;
    for (const n of [...new Set(servers.map((s) => s.port.number))].sort((a, b) => a - b)) {
      if (n in next) continue;
      next[n] = this.ports[n] ?? (await freePort());
      if (this.planned && !(n in this.ports)) this.log(`${label}: port ${n} is served on 127.0.0.1:${next[n]}`);
    }
    if (this.planned)
      for (const n of Object.keys(this.ports).map(Number))
        if (!(n in next)) this.log(`${label}: port ${n} is no longer in any Gateway: 127.0.0.1:${this.ports[n]} stops being served`);
    this.ports = next;
    this.planned = true;
  }

  /** mast-proxy's flags for it (after the common ones): gateway mode, its identity and labels, its ports. */
  flags(): string[] {
    return [
      '--mode',
      'gateway',
      '--namespace',
      SYSTEM_NAMESPACE,
      '--service-account',
      this.spec.name,
      '--labels',
      Object.entries(this.spec.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(','),
      '--port-map',
      Object.entries(this.ports)
        .map(([k, v]) => `${k}=${v}`)
        .join(','),
    ];
  }

  /**
   * Its Service as a cluster has it (Istio's egress gateway: 80 `http2`, 443 `https`, and any other
   * Gateway server port), and an EndpointSlice of its pod on the local ports that serve them, at
   * `address` (where sidecars reach this machine's processes): a sidecar's route to
   * `<name>.<namespace>.svc.cluster.local` reaches this process. A port no Gateway serves has no
   * endpoint (a request to it gets 503, as from a gateway not listening there).
   */
  serviceObjects(objects: readonly KubeObject[], address = '127.0.0.1'): KubeObject[] {
    const numbers = [...new Set([80, 443, ...this.servers(objects).map((s) => s.port.number)])].sort((a, b) => a - b);
    const portName = (n: number) => (n === 80 ? 'http2' : n === 443 ? 'https' : `tcp-${n}`);
    const metadata = { name: this.spec.name, namespace: SYSTEM_NAMESPACE };
    const served = numbers.filter((n) => this.ports[n]);
    return [
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { ...metadata, labels: { 'app.kubernetes.io/part-of': 'mast' } },
        spec: { selector: { ...this.spec.labels }, ports: numbers.map((n) => ({ name: portName(n), port: n, protocol: 'TCP' })) },
      },
      {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name: `${this.spec.name}-local`,
          namespace: SYSTEM_NAMESPACE,
          labels: { 'kubernetes.io/service-name': this.spec.name },
        },
        addressType: 'IPv4',
        ports: served.map((n) => ({ name: portName(n), port: this.ports[n], protocol: 'TCP' })),
        endpoints: served.length ? [{ addresses: [address], conditions: { ready: true }, targetRef: { kind: 'Pod', ...metadata } }] : [],
      },
    ] as unknown as KubeObject[];
  }
}
