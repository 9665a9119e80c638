/**
 * Istio's classic-API traffic-management tasks (istio.io content/en/docs/tasks/traffic-management/),
 * each a `describe` following the task's steps and asserting its documented outcome, on ONE
 * `mast local` of the bookinfo example (startup dominates: one mesh serves every task here, in the
 * tasks' order; each task first applies the routes it starts from). The YAML is the tasks', as
 * Bookinfo's samples spell it, applied by editing the mesh files as `kubectl apply` would.
 *
 * What stands for what: the example's reviews v1/v2/v3 are Bookinfo's no stars / black stars /
 * red stars (v2 and v3 call ratings, over gRPC here); `end-user: jason` is the logged-in user
 * productpage propagates; productpage's sidecar outbound port is the client pod (`sleep`,
 * `fortio`) of the httpbin tasks, and details or reviews the httpbin it calls; Bookinfo's
 * hard-coded app timeouts are the example app's call timeout (5 s set, about 4 s measured). tcp-echo runs as tcp-echo.ts.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { freePort } from '../../../runtime/local/local-mesh';
import { until } from '../../support/poll';
import { adminOf, fromWorkload, many, type Page, request, requestsOn, reviewsVersion, startExample, type Running } from '../support';
import { tcpEchoGateway, tcpEchoRoute, tcpEchoWorkloads } from './tcp-echo-mesh';

const TCP_NS = 'istio-io-tcp-traffic-shifting';
const TCP_INGRESS = 31400;

/** The task's Gateway: port 31400 appears on the running mesh's gateway when it is applied (with the routes). */
const TCP_GATEWAY = `${tcpEchoGateway(TCP_NS, TCP_INGRESS)}---\n`;

let mesh: Running;
beforeAll(async () => {
  // tcp-echo's workloads only: the task's Gateway comes with its routes, to the running mesh.
  const files = { 'local/tcp-echo.yaml': tcpEchoWorkloads(TCP_NS, [await freePort(), await freePort()]) };
  mesh = await startExample({ files, accessLog: true });
}, 90_000);
afterAll(() => mesh?.stop());

/** `kubectl apply` of a whole file's worth of resources (no-op when it already holds them). */
async function apply(file: string, yaml: string): Promise<void> {
  try {
    await mesh.edit(file, () => yaml);
  } catch (err) {
    if (!/changed nothing/.test((err as Error).message)) throw err;
  }
}

const vs = (host: string, http: string) => `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${host}, namespace: default }
spec:
  hosts: [${host}]
  http:
${http}`;
const toSubset = (host: string, subset: string) => `  - route:\n    - destination: { host: ${host}, subset: ${subset} }\n`;

/** samples/bookinfo/networking/virtual-service-all-v1.yaml */
const ALL_V1 = ['productpage', 'reviews', 'ratings', 'details'].map((h) => vs(h, toSubset(h, 'v1'))).join('');
/** virtual-service-reviews-test-v2.yaml: jason to v2, everyone else v1. */
const REVIEWS_TEST_V2 = vs(
  'reviews',
  `  - match: [{ headers: { end-user: { exact: jason } } }]
    route:
    - destination: { host: reviews, subset: v2 }
${toSubset('reviews', 'v1')}`,
);
/** all-v1 with one host's rules replaced (a second `kubectl apply` of that VirtualService). */
const allV1With = (...replacements: string[]) =>
  ALL_V1.split(/(?=---\n)/)
    .map((doc) => replacements.find((r) => /name: (\w+)/.exec(r)?.[1] === /name: (\w+)/.exec(doc)?.[1]) ?? doc)
    .join('');

const stars = (p: Page) => ({ v1: 'none', v2: 'black', v3: 'red' })[reviewsVersion(p) ?? ''] ?? `no reviews (${p.status})`;
/** A call as the example app reports it: the answer's JSON, or `{ url, error }` when none came. */
type Call = NonNullable<Page['body']['calls']>[number] & { url?: string; error?: string };
// productpage calls details, then reviews: told apart by position, as a proxy's own reply is not JSON.
const reviewsOf = (p: Page) => (p.body.calls as Call[] | undefined)?.[1];
const ratingsOf = (p: Page) => reviewsOf(p)?.calls?.[0] as Call | undefined;
const JASON = { 'end-user': 'jason' };

describe('request-routing', () => {
  test('virtual-service-all-v1: every page shows reviews without stars (v1), which calls no ratings', async () => {
    await apply('mesh/routes.yaml', ALL_V1);
    const pages = await many(30, 6, () => request(mesh.port));
    expect(pages.map(stars)).toEqual(Array(30).fill('none'));
    expect(pages.filter((p) => reviewsOf(p)?.calls !== undefined)).toEqual([]);
  });

  test('virtual-service-reviews-test-v2: jason sees black stars (v2, with ratings); everyone else none', async () => {
    await apply('mesh/routes.yaml', allV1With(REVIEWS_TEST_V2));
    for (const page of await many(20, 4, () => request(mesh.port, '/productpage', JASON))) {
      expect(stars(page)).toBe('black');
      expect(ratingsOf(page)).toMatchObject({ status: 200 });
    }
    expect((await many(20, 4, () => request(mesh.port))).map(stars)).toEqual(Array(20).fill('none'));
  });
});

describe('fault-injection', () => {
  const ratingsFault = (fault: string) =>
    vs(
      'ratings',
      `  - match: [{ headers: { end-user: { exact: jason } } }]
    fault:
${fault}
    route:
    - destination: { host: ratings, subset: v1 }
${toSubset('ratings', 'v1')}`,
    );

  test('a 7s delay for jason: the reviews section fails at productpage’s own timeout (about 4 s here, 6 s in Bookinfo), not after 7 s', async () => {
    await apply(
      'mesh/routes.yaml',
      allV1With(REVIEWS_TEST_V2, ratingsFault('      delay: { percentage: { value: 100.0 }, fixedDelay: 7s }')),
    );
    const page = await request(mesh.port, '/productpage', JASON);
    expect(page.status).toBe(200);
    expect(reviewsOf(page)).toMatchObject({ error: 'timeout' });
    // At the caller's timeout (the example app gives up on reviews after about 4 s here: its
    // sidecar logs the call closed by productpage, DC, at 4000 ms), short of the 7 s delay.
    expect(page.ms).toBeGreaterThanOrEqual(3500);
    expect(page.ms).toBeLessThan(7000);
    // Anyone else is not delayed, and sees v1.
    const other = await request(mesh.port);
    expect([other.status, stars(other)]).toEqual([200, 'none']);
    expect(other.ms).toBeLessThan(2000);
  }, 20_000);

  test('an abort (HTTP 500) for jason: the page loads at once with "ratings unavailable"; others see v1', async () => {
    await apply(
      'mesh/routes.yaml',
      allV1With(REVIEWS_TEST_V2, ratingsFault('      abort: { percentage: { value: 100.0 }, httpStatus: 500 }')),
    );
    const page = await request(mesh.port, '/productpage', JASON);
    expect([page.status, stars(page)]).toEqual([200, 'black']);
    expect(reviewsOf(page)?.status).toBe(200);
    expect(ratingsOf(page)).toMatchObject({ error: expect.stringMatching(/^ratings unavailable/) });
    expect(ratingsOf(page)?.status).not.toBe(200);
    expect(page.ms).toBeLessThan(2000);
    const other = await request(mesh.port);
    expect([other.status, stars(other)]).toEqual([200, 'none']);
  });
});

describe('request-timeouts', () => {
  const REVIEWS_V2 = vs('reviews', toSubset('reviews', 'v2'));
  const RATINGS_DELAY_2S = vs(
    'ratings',
    `  - fault:
      delay: { percentage: { value: 100 }, fixedDelay: 2s }
    route:
    - destination: { host: ratings, subset: v1 }
`,
  );

  test('ratings delayed 2 s: the page works (black stars) and takes about 2 s', async () => {
    await apply('mesh/routes.yaml', allV1With(REVIEWS_V2, RATINGS_DELAY_2S));
    const page = await request(mesh.port);
    expect([page.status, stars(page)]).toEqual([200, 'black']);
    expect(ratingsOf(page)).toMatchObject({ status: 200 });
    expect(page.ms).toBeGreaterThanOrEqual(1950);
  });

  test('a 0.5 s timeout on reviews: the page returns in about 0.5 s with reviews unavailable (504)', async () => {
    const withTimeout = REVIEWS_V2.replace('  - route:', '  - timeout: 0.5s\n    route:');
    await apply('mesh/routes.yaml', allV1With(withTimeout, RATINGS_DELAY_2S));
    const before = await requestsOn(adminOf(mesh.mesh, 'productpage-v1'), {
      reporter: 'source',
      response_code: '504',
      response_flags: 'UT',
    });
    const page = await request(mesh.port);
    expect(page.status).toBe(200);
    expect(reviewsOf(page)?.status).toBe(504);
    expect(page.ms).toBeGreaterThanOrEqual(490);
    // Bookinfo's productpage retries once (about 1 s); the example's does not.
    expect(page.ms).toBeLessThan(1900);
    expect(await requestsOn(adminOf(mesh.mesh, 'productpage-v1'), { reporter: 'source', response_code: '504', response_flags: 'UT' })).toBe(
      before + 1,
    );
  });
});

describe('traffic-shifting', () => {
  const reviewsWeights = (v1: number, v3: number) =>
    vs(
      'reviews',
      `  - route:
    - destination: { host: reviews, subset: v1 }
      weight: ${v1}
    - destination: { host: reviews, subset: v3 }
      weight: ${v3}
`,
    );

  test('all v1, then virtual-service-reviews-50-v3: about half the pages show red stars, the rest none', async () => {
    await apply('mesh/routes.yaml', ALL_V1);
    expect((await many(10, 5, () => request(mesh.port))).map(stars)).toEqual(Array(10).fill('none'));
    await apply('mesh/routes.yaml', allV1With(reviewsWeights(50, 50)));
    const seen = (await many(200, 8, () => request(mesh.port))).map(stars);
    expect(seen.filter((s) => s !== 'none' && s !== 'red')).toEqual([]);
    // 200 draws at p = 0.5: the share is within 0.35..0.65 but with a chance of about 1e-5.
    const red = seen.filter((s) => s === 'red').length / seen.length;
    expect(red).toBeGreaterThan(0.35);
    expect(red).toBeLessThan(0.65);
  });

  test('virtual-service-reviews-v3: every page shows red stars', async () => {
    await apply('mesh/routes.yaml', allV1With(vs('reviews', toSubset('reviews', 'v3'))));
    expect((await many(30, 6, () => request(mesh.port))).map(stars)).toEqual(Array(30).fill('red'));
  });
});

describe('tcp-traffic-shifting', () => {
  const DESTINATION_RULE = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: tcp-echo-destination, namespace: ${TCP_NS} }
spec:
  host: tcp-echo
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 } }
`;
  const tcpRoutes = (v1: number, v2: number) => `${TCP_GATEWAY}${DESTINATION_RULE}---
${tcpEchoRoute(TCP_NS, TCP_INGRESS, { v1, v2 })}`;

  /** `(date; sleep 1) | nc $INGRESS_HOST $TCP_INGRESS_PORT`: one connection, one line, its echo. */
  const echo = (line: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = net.connect(mesh.mesh.gatewayPorts[TCP_INGRESS], '127.0.0.1');
      let got = '';
      socket.setEncoding('utf8');
      socket.setTimeout(5000, () => socket.destroy(new Error(`no echo of ${line} in 5 s (got ${JSON.stringify(got)})`)));
      socket.on('connect', () => socket.write(`${line}\n`));
      socket.on('data', (d: string) => {
        got += d;
        if (got.endsWith('\n')) socket.end(() => resolve(got.trim()));
      });
      socket.on('error', reject);
      socket.on('close', () => resolve(got.trim()));
    });
  const prefixes = async (n: number) =>
    (await many(n, 5, async (i) => ({ status: 200, ms: 0, body: { service: await echo(`hello ${i}`) } }))).map((p, i) => {
      const reply = p.body.service ?? '';
      return reply.endsWith(` hello ${i}`) ? reply.split(' ')[0] : `unexpected ${JSON.stringify(reply)}`;
    });

  test('all TCP traffic to tcp-echo v1, its Gateway applied to the running mesh: port 31400 is served, every connection answers "one"', async () => {
    expect(mesh.mesh.gatewayPorts[TCP_INGRESS]).toBeUndefined();
    await apply(`mesh/tcp-echo.yaml`, tcpRoutes(100, 0));
    expect(mesh.mesh.gatewayPorts[TCP_INGRESS]).toEqual(expect.any(Number));
    expect(await prefixes(20)).toEqual(Array(20).fill('one'));
    // Each closed connection is a line of tcp-echo v1's sidecar access log (the --access-log flag's JSON, as Istio's default for a TCP proxy).
    const prefix = `[sidecar tcp-echo-v1.${TCP_NS}] {`;
    const line = await until("a connection's line in tcp-echo v1's access log", () =>
      mesh.logs.find((l) => l.startsWith(prefix) && l.includes('"upstream_cluster":"inbound|')),
    );
    const tcp = JSON.parse(String(line).slice(prefix.length - 1));
    expect(tcp).toMatchObject({ method: null, protocol: null, response_code: 0, response_flags: '-', duration: expect.any(Number) });
    // What tcp-echo v1 sent back is the line it got with "one " before it.
    expect(tcp.bytes_sent).toBe(tcp.bytes_received + 4);
  });

  test('80/20 between v1 and v2: about a fifth of the connections answer "two"', async () => {
    await apply(`mesh/tcp-echo.yaml`, tcpRoutes(80, 20));
    const seen = await prefixes(100);
    expect(seen.filter((s) => s !== 'one' && s !== 'two')).toEqual([]);
    // 100 draws at p = 0.2: within 0.07..0.35 but with a chance of about 1e-4.
    const two = seen.filter((s) => s === 'two').length / seen.length;
    expect(two).toBeGreaterThan(0.07);
    expect(two).toBeLessThan(0.35);
  });

  test('cleanup: the Gateway and its routes deleted, port 31400 is no longer served', async () => {
    const local = mesh.mesh.gatewayPorts[TCP_INGRESS];
    await apply(`mesh/tcp-echo.yaml`, DESTINATION_RULE);
    expect(mesh.mesh.gatewayPorts[TCP_INGRESS]).toBeUndefined();
    expect(mesh.logs).toContain(`gateway: port ${TCP_INGRESS} is no longer in any Gateway: 127.0.0.1:${local} stops being served`);
    const refused = () =>
      new Promise<boolean>((resolve) => {
        const socket = net.connect(local, '127.0.0.1');
        socket.once('connect', () => (socket.destroy(), resolve(false)));
        socket.once('error', () => resolve(true));
      });
    await until('port 31400 refuses connections', refused, 15_000);
  });
});

describe('mirroring', () => {
  // httpbin v1/v2 are reviews v1/v2 here; the client pod is productpage's.
  const curl = () => fromWorkload(mesh.mesh, 'productpage-v1', 'http://reviews:9080/headers');
  const inbound = (w: string) => requestsOn(adminOf(mesh.mesh, w), { reporter: 'destination' });
  const mirrored = (percent: string) =>
    vs(
      'reviews',
      `  - route:
    - destination: { host: reviews, subset: v1 }
      weight: 100
    mirror: { host: reviews, subset: v2 }
    ${percent}
`,
    );

  test('default route to v1: the request reaches v1 and nothing reaches v2', async () => {
    await apply('mesh/routes.yaml', ALL_V1);
    const before = await Promise.all([inbound('reviews-v1'), inbound('reviews-v2')]);
    const reply = await curl();
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toMatchObject({ service: 'reviews', version: 'v1' });
    expect((await inbound('reviews-v1')) - before[0]).toBe(1);
    expect((await inbound('reviews-v2')) - before[1]).toBe(0);
  });

  test('mirror to v2 with mirrorPercentage 100: v1 answers, v2 gets a copy too', async () => {
    await apply('mesh/routes.yaml', allV1With(mirrored('mirrorPercentage: { value: 100.0 }')));
    const before = await Promise.all([inbound('reviews-v1'), inbound('reviews-v2')]);
    const reply = await curl();
    expect(JSON.parse(reply.body)).toMatchObject({ version: 'v1' });
    await until('the mirrored copy at reviews v2', async () => (await inbound('reviews-v2')) - before[1] === 1, 5000);
    expect((await inbound('reviews-v1')) - before[0]).toBe(1);
  });

  // As Envoy names it: "-shadow" on the host, before its port (shadowAuthority in upstream-head.ts).
  test('the copy carries the shadow Host reviews-shadow:9080', async () => {
    const before = mesh.logs.length;
    await curl();
    // The copy's Host, as reviews v2's inbound sidecar logs it.
    const copy = await until('the copy in reviews v2’s access log', () =>
      mesh.logs.slice(before).find((l) => l.startsWith('[sidecar reviews-v2.default]') && l.includes('"path":"/headers"')),
    );
    expect(JSON.parse(copy!.slice(copy!.indexOf('{'))).authority).toBe('reviews-shadow:9080');
  });

  test('mirrors: several targets, each with its percentage (v2 and v3 get a copy each)', async () => {
    await apply(
      'mesh/routes.yaml',
      allV1With(
        vs(
          'reviews',
          `  - route:
    - destination: { host: reviews, subset: v1 }
    mirrors:
    - { destination: { host: reviews, subset: v2 }, percentage: { value: 100 } }
    - { destination: { host: reviews, subset: v3 }, percentage: { value: 100 } }
`,
        ),
      ),
    );
    const before = await Promise.all(['reviews-v1', 'reviews-v2', 'reviews-v3'].map(inbound));
    expect(JSON.parse((await curl()).body)).toMatchObject({ version: 'v1' });
    await until('a copy at reviews v2 and one at v3', async () => {
      const now = await Promise.all(['reviews-v1', 'reviews-v2', 'reviews-v3'].map(inbound));
      return now[1] - before[1] === 1 && now[2] - before[2] === 1;
    });
    expect((await inbound('reviews-v1')) - before[0]).toBe(1);
  });

  test('mirrorPercent: 100 (the older field, deprecated): still mirrors, with a deprecation Warning', async () => {
    await apply('mesh/routes.yaml', allV1With(mirrored('mirrorPercent: 100')));
    const before = await inbound('reviews-v2');
    await curl();
    await until('the mirrored copy at reviews v2', async () => (await inbound('reviews-v2')) - before === 1, 5000);
    // mastd's analysis (what `mast validate` and the admin page report) runs once edits pause.
    const warning = await until('the deprecation Warning', () => mesh.mesh.mastd.findings.find((f) => f.code === 'MAST0134'), 5000);
    expect(warning).toMatchObject({ severity: 'Warning', path: 'spec.http[0].mirrorPercent', name: 'reviews' });
  });
});

describe('circuit-breaking', () => {
  // The task's DestinationRule, on details (the httpbin here); its subset stays for details' route.
  const CIRCUIT_BREAKER = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: details, namespace: default }
spec:
  host: details
  trafficPolicy:
    connectionPool:
      tcp: { maxConnections: 1 }
      http: { http1MaxPendingRequests: 1, maxRequestsPerConnection: 1 }
    outlierDetection:
      consecutive5xxErrors: 1
      interval: 1s
      baseEjectionTime: 3m
      maxEjectionPercent: 100
  subsets: [{ name: v1, labels: { version: v1 } }]
`;
  const DETAILS_CLUSTER = /details/;
  /** `fortio load -c <c> -qps 0 -n <n>` from the client pod: c keep-alive connections, n requests in all. */
  async function fortio(c: number, n: number): Promise<number[]> {
    const agent = new http.Agent({ keepAlive: true, maxSockets: c });
    try {
      // Each answer takes 50 ms at details: the concurrency is real, as httpbin's network time makes it.
      const replies = await many(n, c, () =>
        fromWorkload(mesh.mesh, 'productpage-v1', 'http://details:9080/get', { 'x-bookinfo-delay': 'details=50' }, agent).then(
          (r) => ({ status: r.status, ms: r.ms, body: {} }) as Page,
        ),
      );
      return replies.map((r) => r.status);
    } finally {
      agent.destroy();
    }
  }
  const overflows = async () => {
    const clusters = (await (await fetch(`http://127.0.0.1:${adminOf(mesh.mesh, 'productpage-v1')}/clusters`)).json()) as Array<{
      name: string;
      overflows: number;
    }>;
    return clusters.filter((c) => DETAILS_CLUSTER.test(c.name)).reduce((a, c) => a + c.overflows, 0);
  };
  const overflowFlags = () =>
    requestsOn(adminOf(mesh.mesh, 'productpage-v1'), { reporter: 'source', destination_service_name: 'details', response_flags: 'UO' });

  test('the circuit breaker applied, one request (fortio -curl) passes', async () => {
    await apply('mesh/routes.yaml', ALL_V1);
    await mesh.edit('mesh/destination-rules.yaml', (t) =>
      t
        .split(/^---\n/m)
        .map((doc) => (/^ {2}name: details$/m.test(doc) ? CIRCUIT_BREAKER : doc))
        .join('---\n'),
    );
    const reply = await fromWorkload(mesh.mesh, 'productpage-v1', 'http://details:9080/get');
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toMatchObject({ service: 'details' });
  });

  test('2 connections, 20 requests: one active and one pending fit, so most pass (the task: 85 %)', async () => {
    const statuses = await fortio(2, 20);
    expect(statuses.filter((s) => s !== 200 && s !== 503)).toEqual([]);
    expect(statuses.filter((s) => s === 200).length / statuses.length).toBeGreaterThanOrEqual(0.5);
  });

  test('3 connections, 30 requests: a share answered 503 (overflow), the rest 200; the proxy counts each overflow', async () => {
    const [flagsBefore, overflowsBefore] = [await overflowFlags(), await overflows()];
    const statuses = await fortio(3, 30);
    expect(statuses.filter((s) => s !== 200 && s !== 503)).toEqual([]);
    const refused = statuses.filter((s) => s === 503).length;
    // The task saw 63 % 503; with one connection and one pending slot, one of three callers at a time overflows.
    expect(refused / statuses.length).toBeGreaterThan(0.1);
    expect(refused / statuses.length).toBeLessThan(0.95);
    // upstream_rq_pending_overflow: the cluster's overflow count, and requests flagged UO.
    expect((await overflows()) - overflowsBefore).toBe(refused);
    expect((await overflowFlags()) - flagsBefore).toBe(refused);
  });
});
