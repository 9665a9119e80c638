/**
 * mast's Grafana dashboards as files: the JSON in dashboards/ is what the builder writes, each is a
 * Grafana dashboard a provisioner or the import API takes (uid, panels on the grid, every query
 * against the data source variable, variables defined before use), and every metric a query names
 * is one mast's proxies or mastd export. What the queries answer is the e2e's (test/e2e/dashboards).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dashboardText, grafanaDashboards } from '../../api/dashboards';
import { ConfigEvents } from '../../runtime/control/config-events';
import { mastdRegistry, pushHistograms } from '../../runtime/control/pilot-metrics';
import { requestLabelText, type RequestLabels } from '../../runtime/proxy/metric-labels';
import { Metrics } from '../../runtime/proxy/metrics';

const DIR = join(__dirname, '..', '..', 'dashboards');
const models = grafanaDashboards();

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: Array<{ refId: string; expr: string; datasource: { type: string; uid: string } }>;
}
const panelsOf = (m: Record<string, unknown>) => m.panels as Panel[];
const queriesOf = (m: Record<string, unknown>) => panelsOf(m).flatMap((p) => p.targets ?? []);
const variablesOf = (m: Record<string, unknown>) =>
  (m.templating as { list: Array<{ name: string; type: string; query: unknown }> }).list.map((v) => ({
    ...v,
    /** A query variable's query (Grafana's `{ query, refId }` form), else nothing. */
    text: typeof v.query === 'object' && v.query ? String((v.query as { query: unknown }).query) : '',
  }));

/** The families a scrape of a proxy and of mastd declares (histograms with their three series). */
function exported(): Set<string> {
  const proxy = [...new Metrics().render().matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name, type]) => ({ name, type }));
  const mastd = mastdRegistry({
    counters: { pushes: 0, pushErrors: 0, acks: 0, nacks: 0, rejectedPeers: 0, certificates: 0, overCap: 0 },
    histograms: pushHistograms(),
    connected: () => 0,
    rejectedResources: () => 0,
    triggers: new Map(),
    internalErrors: () => 0,
    events: new ConfigEvents(),
    jwks: () => [],
  }).getMetricsAsArray();
  return new Set(
    [...proxy, ...mastd].flatMap(({ name, type }) =>
      String(type) === 'histogram' ? [name, `${name}_bucket`, `${name}_sum`, `${name}_count`] : [name],
    ),
  );
}

const KEYWORDS = new Set(['by', 'on', 'and', 'or', 'unless', 'without', 'ignoring', 'group_left', 'group_right', 'bool', 'offset']);

/** The metric names a PromQL expression reads: bare identifiers that are not functions, keywords or label names. */
function metricsOf(expr: string): string[] {
  // Grafana's label_values(label) or label_values(series, label): only the series names metrics.
  const labelValues = /^label_values\((?:(.*),)?\s*\w+\)$/.exec(expr);
  if (labelValues) return labelValues[1] ? metricsOf(labelValues[1]) : [];
  const named = [...expr.matchAll(/__name__=~"([^"]+)"/g)].flatMap((m) => m[1].split('|'));
  const bare = expr
    .replace(/"[^"]*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|on|without|ignoring)\s*\([^)]*\)/g, '');
  const identifiers = [...bare.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)]
    .filter((m) => !m[2] && !KEYWORDS.has(m[1]))
    .map((m) => m[1]);
  return [...named, ...identifiers];
}

test('dashboards/ holds exactly what the builder writes (npm run dashboards)', () => {
  const files = readdirSync(DIR)
    .filter((f) => f.endsWith('.json'))
    .sort();
  expect(files).toEqual(Object.keys(models).sort());
  for (const [name, model] of Object.entries(models))
    expect({ name, text: readFileSync(join(DIR, name), 'utf8') }).toEqual({ name, text: dashboardText(model) });
});

test.each(Object.entries(models))(
  '%s is a Grafana dashboard: uid, rows and panels on the grid, queries against $datasource',
  (_name, model) => {
    expect(model).toMatchObject({ uid: expect.stringMatching(/^[a-z0-9-]{1,40}$/), title: expect.any(String), schemaVersion: 39 });
    const panels = panelsOf(model);
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    const cells = new Set<string>();
    for (const p of panels) {
      const { h, w, x, y } = p.gridPos;
      expect({ title: p.title, fits: x >= 0 && w > 0 && x + w <= 24 && h > 0 }).toEqual({ title: p.title, fits: true });
      for (let i = x; i < x + w; i++)
        for (let j = y; j < y + h; j++) {
          expect({ title: p.title, overlaps: cells.has(`${i},${j}`) }).toEqual({ title: p.title, overlaps: false });
          cells.add(`${i},${j}`);
        }
      if (p.type === 'row') continue;
      expect(['stat', 'timeseries', 'table']).toContain(p.type);
      expect(p.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.targets!.length).toBeGreaterThan(0);
      for (const t of p.targets!)
        expect(t).toMatchObject({ refId: expect.stringMatching(/^[A-Z]$/), expr: expect.any(String), datasource: p.datasource });
    }
    // Every variable a query or another variable uses is defined, and before its first use.
    const variables = variablesOf(model);
    expect(variables[0]).toMatchObject({ name: 'datasource', type: 'datasource', query: 'prometheus' });
    const uses = (text: string) =>
      [...text.matchAll(/\$(\w+)|\$\{(\w+)\}/g)].map((m) => m[1] ?? m[2]).filter((v) => !/^(__\w+|\d+)$/.test(v));
    variables.forEach((v, i) => {
      for (const used of uses(v.text)) expect(variables.slice(0, i).map((d) => d.name)).toContain(used);
    });
    for (const q of queriesOf(model)) for (const used of uses(q.expr)) expect(variables.map((d) => d.name)).toContain(used);
  },
);

test("every metric the dashboards read is one mast's proxies or mastd export", () => {
  const names = exported();
  const read = Object.values(models).flatMap((m) => [
    ...queriesOf(m).flatMap((q) => metricsOf(q.expr)),
    ...variablesOf(m).flatMap((v) => metricsOf(v.text)),
  ]);
  expect(read.length).toBeGreaterThan(50);
  expect([...new Set(read)].filter((n) => !names.has(n))).toEqual([]);
});

/**
 * Every label a query selects or groups by, or a legend shows, is one a series carries: the proxy's
 * Istio labels (every field of a request's labels), mastd's (`type`, `event`, `component`, `tag`),
 * Prometheus' own (`le`, `instance`, `job`, `__name__`), or one a query makes (`label_replace`'s).
 */
test('every label the dashboards select, group by or show is one the series carry', () => {
  const anyValue = new Proxy({} as RequestLabels, {
    get: (_t, k) => (k === 'reporter' ? 'source' : k === 'responseCode' ? 200 : k === 'grpcStatus' ? 0 : 'x'),
  });
  const istio = [...requestLabelText(anyValue).matchAll(/(\w+)="/g)].map((m) => m[1]);
  expect(istio).toEqual(expect.arrayContaining(['source_workload', 'destination_service', 'connection_security_policy', 'response_code']));
  const known = new Set([...istio, 'type', 'event', 'component', 'tag', 'le', 'instance', 'job', '__name__']);
  const texts = Object.values(models).flatMap((m) => [
    ...queriesOf(m).map((q) => q.expr),
    ...panelsOf(m).flatMap((p) => (p.targets ?? []).map((t) => (t as { legendFormat?: string }).legendFormat ?? '')),
    ...variablesOf(m).map((v) => v.text),
  ]);
  const made = new Set(texts.flatMap((t) => [...t.matchAll(/label_replace\(\{[^}]*\},\s*"(\w+)"/g)].map((m) => m[1])));
  const used = texts.flatMap((t) => [
    ...[...t.matchAll(/\{([^{}]*)\}/g)].flatMap((m) => [...m[1].matchAll(/(\w+)\s*(?:=~|!~|!=|=)\s*"/g)].map((x) => x[1])),
    ...[...t.matchAll(/\b(?:by|on)\s*\(([^)]*)\)/g)].flatMap((m) => m[1].split(',').map((x) => x.trim())),
    ...[...t.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]),
  ]);
  expect(used.length).toBeGreaterThan(100);
  expect([...new Set(used)].filter((l) => !known.has(l) && !made.has(l))).toEqual([]);
});

test('metricsOf reads names, not functions, keywords or labels', () => {
  expect(metricsOf('sum by (le, source_workload) (rate(istio_request_bytes_bucket{reporter="source"}[$__rate_interval]))')).toEqual([
    'istio_request_bytes_bucket',
  ]);
  expect(metricsOf('rate(process_cpu_seconds_total[1m]) and on (instance) pilot_xds')).toEqual(['process_cpu_seconds_total', 'pilot_xds']);
  expect(metricsOf('label_values(destination_service)')).toEqual([]);
  expect(metricsOf('label_values(istio_requests_total{reporter="source"}, destination_service)')).toEqual(['istio_requests_total']);
  expect(metricsOf('label_replace({__name__=~"a_total|b_total", x="y"}, "w", "$1", "z", "(.+)")')).toEqual(['a_total', 'b_total']);
});
