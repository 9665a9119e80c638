/**
 * Istio's Grafana dashboards answer on mast's metrics, checked by a real Prometheus: `mast local`
 * runs the bookinfo example (and tcp-echo behind a TCP port of the gateway); Prometheus scrapes
 * every proxy through the admin port's service discovery with the `prometheus.yml` mast local
 * serves (scraping every second); then every panel query of the Mesh, Service and Workload dashboards (dashboard-queries.ts)
 * must come back with the labels the traffic sent implies.
 *
 * The traffic, sent twice (a counter's first sample is its starting point, so each series must
 * grow after it was first scraped for a rate to see it): pages through the gateway (reviews v1
 * and v3 by the canary, v2 for jason, which call ratings over gRPC), jason's pages whose reviews
 * answer 500 (the example app's `x-bookinfo-fail`), a path the gateway has no route for (404), requests
 * from a client outside the mesh straight to reviews-v1's sidecar (plain text: PERMISSIVE),
 * TCP connections to tcp-echo through the gateway, and one in plain text to its sidecar.
 * Skipped, not passed, without Debian's `prometheus` (as the promtool tests are).
 */
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { join } from 'node:path';
import { GATEWAY_NAME, SYSTEM_NAMESPACE } from '../../../api/well-known';
import { LocalAdmin } from '../../../runtime/local/admin';
import { freePort } from '../../../runtime/local/local-mesh';
import { prometheusConfig } from '../../../runtime/local/prometheus';
import { until } from '../../support/poll';
import { HAS_PROMETHEUS, Prometheus, type Sample } from '../../support/prometheus';
import { tcpEchoMesh, tcpEchoRoute } from '../istio-tasks/tcp-echo-mesh';
import { many, type Page, request, type Running, startExample } from '../support';
import { DASHBOARDS, dashboardQueries, type PanelQuery, type Scene } from './dashboard-queries';
import { mastViews } from './mast-dashboard-views';
import { type Expect, grafanaIntervals, interpolate, problems, type QueryVariable, type View, variableOptions } from './mast-dashboards';

const TCP_NS = 'tcp-dashboards';
const TCP_INGRESS = 31400;
const GATEWAY = { name: GATEWAY_NAME, namespace: SYSTEM_NAMESPACE };
const fqdn = (name: string, ns = 'default') => `${name}.${ns}.svc.cluster.local`;

const SCENE: Scene = {
  httpService: fqdn('reviews'),
  httpServiceWorkloads: ['reviews-v1', 'reviews-v2', 'reviews-v3'],
  httpServiceCaller: 'productpage-v1',
  httpWorkload: { name: 'productpage-v1', namespace: 'default' },
  httpWorkloadCaller: GATEWAY,
  httpWorkloadCallees: [fqdn('details'), fqdn('reviews')],
  tcpService: fqdn('tcp-echo', TCP_NS),
  tcpWorkload: { name: 'tcp-echo-v1', namespace: TCP_NS },
  tcpCaller: GATEWAY,
  plainTarget: 'reviews-v1',
  meshWorkloads: ['productpage-v1', 'details-v1', 'reviews-v1', 'reviews-v2', 'reviews-v3', 'ratings-v1'],
};

/** All of tcp-echo to v1, through the gateway's TCP port. */
const TCP_ROUTES = `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: tcp-echo, namespace: ${TCP_NS} }
spec:
  host: tcp-echo
  subsets: [{ name: v1, labels: { version: v1 } }]
---
${tcpEchoRoute(TCP_NS, TCP_INGRESS)}`;

/** One line over a TCP connection to `port` and its echo, then the connection closed. */
const echo = (port: number, line: string) =>
  new Promise<string>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let got = '';
    socket.setEncoding('utf8');
    socket.setTimeout(5000, () => socket.destroy(new Error(`no echo of ${line} in 5 s`)));
    socket.on('connect', () => socket.write(`${line}\n`));
    socket.on('data', (d: string) => {
      got += d;
      if (got.endsWith('\n')) socket.end();
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(got.trim()));
  });

/** A GET from a client outside the mesh, straight to a sidecar's inbound port (no mTLS). */
const plainGet = (port: number, host: string, path: string) =>
  new Promise<number>((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.setTimeout(5000, () => req.destroy(new Error(`timeout: GET ${path} from outside the mesh`)));
    req.on('error', reject);
  });

let mesh: Running | undefined;
let admin: LocalAdmin | undefined;
const prometheus = new Prometheus();

/** Sums of a family over every proxy's own exposition (what Prometheus must have caught up with). */
async function totals(families: readonly string[]): Promise<number[]> {
  const texts = await Promise.all(
    mesh!.mesh.proxies().map(async (p) => (await fetch(`http://${p.host}:${p.adminPort}/stats/prometheus`)).text()),
  );
  return families.map((f) =>
    texts
      .flatMap((t) => t.split('\n'))
      .filter((l) => l.startsWith(`${f}{`))
      .reduce((n, l) => n + Number(l.split(' ').pop()), 0),
  );
}

/** Sends one round of the traffic, then waits until Prometheus has scraped all of it. */
async function round(pages: number): Promise<void> {
  const port = mesh!.port;
  const canary = await many(pages, 6, () => request(port));
  const jason = await many(10, 4, () => request(port, '/productpage', { 'end-user': 'jason' }));
  // jason's pages go to reviews v2; every failing one is followed by a good one, so v2 never has the five
  // consecutive 5xx that make the example's outlier detection eject it (which Istio would do too).
  const failing: Page[] = [];
  for (let i = 0; i < 5; i++) {
    failing.push(await request(port, '/productpage', { 'end-user': 'jason', 'x-bookinfo-fail': 'reviews=500' }));
    failing.push(await request(port, '/productpage', { 'end-user': 'jason' }));
  }
  const missing = await many(5, 2, () => request(port, '/no-such-page'));
  expect([...canary, ...jason, ...failing].filter((p) => p.status !== 200)).toEqual([]);
  expect(missing.map((p) => p.status)).toEqual(Array(5).fill(404));
  const reviews = mesh!.mesh.workloads.get('default/reviews-v1')!;
  for (let i = 0; i < 5; i++) expect(await plainGet(reviews.inboundPort, 'reviews:9080', '/reviews/0')).toBe(200);
  const viaGateway = await Promise.all([1, 2, 3].map((i) => echo(mesh!.mesh.gatewayPorts[TCP_INGRESS], `hello ${i}`)));
  expect(viaGateway).toEqual(['one hello 1', 'one hello 2', 'one hello 3']);
  const tcpEcho = mesh!.mesh.workloads.get(`${TCP_NS}/tcp-echo-v1`)!;
  expect(await echo(tcpEcho.inboundPort, 'plain')).toBe('one plain');

  // Every connection closed (both ends of each reported), then Prometheus has what the proxies count.
  await until('every TCP connection reported closed', async () => {
    const [opened, closed] = await totals(['istio_tcp_connections_opened_total', 'istio_tcp_connections_closed_total']);
    return opened > 0 && opened === closed;
  });
  const [requests, closed] = await totals(['istio_requests_total', 'istio_tcp_connections_closed_total']);
  const scraped = async (metric: string) => (await prometheus.query(`sum(${metric})`))[0]?.value ?? 0;
  await until(
    `Prometheus to have scraped ${requests} requests and ${closed} closed connections`,
    async () => (await scraped('istio_requests_total')) >= requests && (await scraped('istio_tcp_connections_closed_total')) >= closed,
    30_000,
    () => prometheus.logTail(),
  );
}

const queries = dashboardQueries(SCENE);

/** mast's dashboards as shipped (dashboards/*.json), and each panel query with what each view expects of it. */
interface GrafanaTarget {
  readonly expr: string;
  readonly instant?: boolean;
}
interface GrafanaModel {
  readonly panels: Array<{ type: string; title: string; targets?: GrafanaTarget[] }>;
  readonly templating: { list: QueryVariable[] };
}
const VIEWS = mastViews({ gateway: GATEWAY, tcpNamespace: TCP_NS, fqdn });
const MAST_DASHBOARDS: Record<string, GrafanaModel> = Object.fromEntries(
  [...new Set(VIEWS.map((v) => v.dashboard))].map((f) => [f, JSON.parse(readFileSync(join(__dirname, '../../../dashboards', f), 'utf8'))]),
);
const panelQueries = (file: string) =>
  MAST_DASHBOARDS[file].panels.filter((p) => p.type !== 'row').flatMap((p) => p.targets!.map((t, i) => ({ panel: p.title, i, target: t })));
const expectationOf = (view: View, panel: string, i: number): Expect | undefined => {
  const e = view.panels[panel];
  return Array.isArray(e) ? e[i] : (e as Expect | undefined);
};
const MAST_CASES = VIEWS.flatMap((view) =>
  panelQueries(view.dashboard).flatMap(({ panel, i, target }) => {
    const expect = expectationOf(view, panel, i);
    return expect ? [{ name: `${view.dashboard} (${view.name}) › ${panel} #${i + 1}`, view, target, expect }] : [];
  }),
);
/** The dashboards' time range: from before the first round of traffic to the moment the panels are asked. */
let rangeStart = 0;
let adminUrl = '';

(HAS_PROMETHEUS ? describe : describe.skip)("Istio's dashboards on mast's metrics, through Prometheus", () => {
  beforeAll(async () => {
    const files = {
      'local/tcp-echo.yaml': tcpEchoMesh(TCP_NS, TCP_INGRESS, [await freePort(), await freePort()]),
      'mesh/tcp-echo-routes.yaml': TCP_ROUTES,
    };
    mesh = await startExample({ files });
    admin = new LocalAdmin(mesh.mesh);
    const adminPort = await admin.listen(0);
    adminUrl = `http://127.0.0.1:${adminPort}`;
    // The prometheus.yml a user fetches from the admin port, at a test's pace (every second, not every 5 s).
    const served = await (await fetch(`http://127.0.0.1:${adminPort}/prometheus.yml`)).text();
    expect(served).toBe(prometheusConfig({ admin: `http://127.0.0.1:${adminPort}` }));
    await prometheus.start(served.replaceAll(': 5s', ': 1s'));
    const proxies = mesh.mesh.proxies().length;
    await until(
      `Prometheus scraping all ${proxies} proxies and mastd`,
      async () => {
        const targets = await prometheus.targets();
        return (
          targets.filter((t) => t.job === 'mast-proxies' && t.health === 'up').length === proxies &&
          targets.some((t) => t.job === 'mastd' && t.health === 'up')
        );
      },
      30_000,
      () => prometheus.logTail(),
    );
    rangeStart = Math.floor(Date.now() / 1000) - 5;
    await round(150);
    // A config change between the rounds: mastd pushes it to every proxy (the control-plane panels' pushes).
    await mesh.edit('mesh/tcp-echo-routes.yaml', (t) =>
      t.replace(`name: tcp-echo, namespace: ${TCP_NS} }`, `name: tcp-echo, namespace: ${TCP_NS}, labels: { round: "2" } }`),
    );
    const pushes = async () =>
      Number(/^pilot_xds_pushes\{type="cds"\} (\d+)$/m.exec(await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text())?.[1]);
    const pushed = await pushes();
    await until(
      'Prometheus to have scraped the push',
      async () => ((await prometheus.query('max(pilot_xds_pushes{type="cds"})'))[0]?.value ?? 0) >= pushed,
      30_000,
    );
    await round(150);
  }, 180_000);
  afterAll(async () => {
    await prometheus.stop();
    await admin?.close();
    await mesh?.stop();
  }, 60_000);

  test('the fixture holds every panel of the Mesh, Service and Workload dashboards that reads an istio_* metric', () => {
    const panels = (dashboard: string) =>
      new Set(queries.filter((q) => q.dashboard === dashboard).map((q) => `${q.row} › ${q.panel}`)).size;
    // Istio's dashboards hold these many panels with istio_* queries: Mesh 7, Service 22, Workload 19.
    expect([DASHBOARDS.mesh, DASHBOARDS.service, DASHBOARDS.workload].map(panels)).toEqual([7, 22, 19]);
  });

  test("mast local's graph reads the same traffic: versions apart, TCP and gRPC edges, mTLS inside the mesh, the outside client plain", async () => {
    const { edges } = await admin!.graph();
    const at = (source: string, destination: string, protocol: string) =>
      edges.find((e) => e.source === source && e.destination === destination && e.protocol === protocol);
    expect(at(GATEWAY_NAME, 'productpage v1', 'http')).toMatchObject({ mtls: 1 });
    for (const v of ['v1', 'v2', 'v3']) expect(at('productpage v1', `reviews ${v}`, 'http')).toMatchObject({ mtls: 1 });
    expect(at('reviews v2', 'ratings v1', 'grpc')).toMatchObject({ mtls: 1 });
    expect(at(GATEWAY_NAME, 'tcp-echo v1', 'tcp')).toMatchObject({ mtls: 1, requests: 6 });
    expect(at('unknown', 'reviews v1', 'http')).toMatchObject({ mtls: 0, requests: 10, errorRate: 0 });
    expect(at('unknown', 'tcp-echo v1', 'tcp')).toMatchObject({ mtls: 0, requests: 2 });
    // jason's failing pages: one in two of productpage's calls to reviews v2 answered 500.
    expect(at('productpage v1', 'reviews v2', 'http')!.errorRate).toBeGreaterThan(0);
  });

  test("mast's dashboards: every query of every panel is expected of in some view", () => {
    const unexpected = Object.keys(MAST_DASHBOARDS).flatMap((file) =>
      panelQueries(file)
        .filter(({ panel, i }) => !VIEWS.some((v) => v.dashboard === file && expectationOf(v, panel, i)))
        .map(({ panel, i }) => `${file} › ${panel} #${i + 1}`),
    );
    expect(unexpected).toEqual([]);
    expect(Object.keys(MAST_DASHBOARDS).sort()).toEqual([
      'mast-control-plane.json',
      'mast-mesh.json',
      'mast-service.json',
      'mast-workload.json',
    ]);
  });

  test("mast local serves the dashboards it ships at /grafana/dashboards/, for Grafana's import", async () => {
    const list = (await (await fetch(`${adminUrl}/grafana/dashboards/`)).json()) as Array<{ file: string; uid: string }>;
    expect(list.map((d) => d.file.split('/').pop()).sort()).toEqual(Object.keys(MAST_DASHBOARDS).sort());
    for (const d of list) {
      const served = await fetch(`${adminUrl}${d.file}`);
      expect([served.status, served.headers.get('content-type')]).toEqual([200, 'application/json']);
      const file = d.file.split('/').pop()!;
      expect(await served.text()).toBe(readFileSync(join(__dirname, '../../../dashboards', file), 'utf8'));
    }
    expect((await fetch(`${adminUrl}/grafana/dashboards/nope.json`)).status).toBe(404);
  });

  test.each(VIEWS.filter((v) => Object.keys(v.variables).length).map((v) => [`${v.dashboard} (${v.name})`, v] as const))(
    "mast's dashboards: %s's variables offer the values picked",
    async (_name, view) => {
      const picked: Record<string, string> = {};
      for (const variable of MAST_DASHBOARDS[view.dashboard].templating.list.filter((v) => v.type === 'query')) {
        const options = await variableOptions(prometheus, variable, picked);
        expect({ variable: variable.name, options }).toEqual({
          variable: variable.name,
          options: expect.arrayContaining([view.variables[variable.name]]),
        });
        picked[variable.name] = view.variables[variable.name];
      }
    },
  );

  test.each(MAST_CASES.map((c) => [c.name, c] as const))("mast's dashboards: %s", async (_name, c) => {
    const end = Math.ceil(Date.now() / 1000);
    const { interval, rateInterval } = grafanaIntervals(end - rangeStart);
    const expr = interpolate(c.target.expr, { ...c.view.variables, __rate_interval: `${rateInterval}s`, __interval: `${interval}s` });
    // A table asks for the range's last moment (instant); a graph or a stat for every step of the range.
    const answer = c.target.instant
      ? (await prometheus.query(expr)).map((s) => ({ metric: s.metric, values: [s.value] }))
      : await prometheus.queryRange(expr, rangeStart, end, interval);
    const found = problems(answer, c.expect);
    expect({ expr, problems: found, ...(found.length ? { answer: answer.map((s) => s.metric) } : {}) }).toEqual({ expr, problems: [] });
  });

  test.each(queries.map((q) => [`${q.dashboard} › ${q.row} › ${q.panel}${q.series ? ` (${q.series})` : ''}`, q] as const))(
    '%s',
    async (_name, q: PanelQuery) => {
      const answer = await prometheus.query(q.query);
      if (q.expect.kind === 'empty') {
        expect({ query: q.query, answer }).toEqual({ query: q.query, answer: [] });
        return;
      }
      const { value, labels } = q.expect;
      const has = (s: Sample, l: Readonly<Record<string, string>>) => Object.entries(l).every(([k, v]) => s.metric[k] === v);
      const bad = (s: Sample) =>
        !Number.isFinite(s.value) || s.value < 0 || (value === 'positive' && s.value === 0) || (value === 'ratio' && s.value > 1);
      const checked = labels.length ? answer.filter((s) => labels.some((l) => has(s, l))) : answer;
      const missing = labels.filter((l) => !answer.some((s) => has(s, l)));
      expect({
        query: q.query,
        empty: answer.length === 0,
        missing,
        outOfRange: checked.filter(bad),
        // What came back instead, to read a failure by.
        ...(missing.length ? { answer } : {}),
      }).toEqual({ query: q.query, empty: false, missing: [], outOfRange: [] });
    },
  );
});
