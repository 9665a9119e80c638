/**
 * The example's request path checked through a gateway (kind's NodePort on localhost, or
 * `mast local`): the sidecar-to-sidecar calls, the `end-user: jason` route, the reviews canary.
 */
import * as http from 'node:http';

export interface SmokeResult {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** A bookinfo page as the example's apps answer: who answered, and what it called. */
export interface Page {
  readonly status: number;
  readonly ms: number;
  readonly body: {
    service?: string;
    version?: string;
    calls?: Array<{
      status: number;
      service?: string;
      version?: string;
      body?: string;
      calls?: Array<{ status: number; service?: string }>;
    }>;
  };
}

/** GET through a gateway with a Host header; a body that is not JSON (a proxy's own reply) reads as `{}`. */
export function getPage(o: {
  address: string;
  port: number;
  host: string;
  path: string;
  headers?: Record<string, string>;
  agent?: http.Agent | false;
}): Promise<Page> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: o.address, port: o.port, path: o.path, headers: { host: o.host, ...o.headers }, agent: o.agent ?? false },
      (res) => {
        let data = '';
        res.on('data', (c) => (data += c));
        res.on('end', () => {
          let body: Page['body'] = {};
          try {
            body = JSON.parse(data);
          } catch {
            /* a proxy's own reply */
          }
          resolve({ status: res.statusCode!, ms: performance.now() - t0, body });
        });
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`timeout: GET ${o.path}`)));
    req.on('error', reject);
  });
}

const get = (base: URL, host: string, path: string, headers: Record<string, string> = {}) =>
  getPage({ address: base.hostname, port: Number(base.port || 80), host, path, headers });

const call = (p: Page, service: string) => p.body.calls?.find((c) => c.service === service);

export async function smoke(url: string, host = 'alpha.example.com', canaryRequests = 200): Promise<SmokeResult[]> {
  const base = new URL(url);
  const out: SmokeResult[] = [];
  const check = async (name: string, fn: () => Promise<string>) => {
    try {
      out.push({ name, ok: true, detail: await fn() });
    } catch (err) {
      out.push({ name, ok: false, detail: (err as Error).message });
    }
  };
  await check('productpage calls details and reviews through the sidecars', async () => {
    const p = await get(base, host, '/productpage');
    if (p.status !== 200) throw new Error(`GET /productpage: HTTP ${p.status}`);
    const statuses = ['details', 'reviews'].map((s) => `${s} ${call(p, s)?.status ?? 'missing'}`);
    if (!statuses.every((s) => s.endsWith(' 200'))) throw new Error(statuses.join(', '));
    return statuses.join(', ');
  });
  await check('end-user: jason is routed to reviews v2, which calls ratings', async () => {
    const p = await get(base, host, '/productpage', { 'end-user': 'jason' });
    const reviews = call(p, 'reviews');
    if (reviews?.version !== 'v2' || reviews.calls?.[0]?.status !== 200)
      throw new Error(`reviews ${reviews?.version ?? 'missing'}, ratings ${reviews?.calls?.[0]?.status ?? 'missing'}`);
    return 'reviews v2 → ratings 200';
  });
  await check(`the reviews canary splits v1/v3 about 90/10 over ${canaryRequests} requests`, async () => {
    const seen: Record<string, number> = {};
    for (let i = 0; i < canaryRequests; i++) {
      const v = call(await get(base, host, '/productpage'), 'reviews')?.version ?? 'none';
      seen[v] = (seen[v] ?? 0) + 1;
    }
    const v3 = (seen.v3 ?? 0) / canaryRequests;
    const summary = Object.entries(seen)
      .map(([v, n]) => `${v} ${n}`)
      .join(', ');
    // Binomial(200, 0.1): 2 %–25 % is more than 3.5 standard deviations either side.
    if ((seen.v1 ?? 0) + (seen.v3 ?? 0) !== canaryRequests || v3 < 0.02 || v3 > 0.25) throw new Error(summary);
    return summary;
  });
  return out;
}
