/**
 * The admin web page of `mast local`: the versioned service graph as inline SVG (rendered here, so
 * it shows without JavaScript; mTLS edges solid, plain-text ones dashed), each proxy's sync state, the validation findings and the recent
 * traces, each a waterfall of its spans. A small script re-fetches the page body every two
 * seconds. Pure.
 */
import type { Graph, GraphEdge, GraphNode } from './graph';
import type { TraceView } from './traces';

export interface PageProxy {
  readonly id: string;
  readonly mode: string;
  readonly version: string;
  readonly status: string;
}

export interface PageModel {
  readonly graph: Graph;
  readonly proxies: readonly PageProxy[];
  readonly findings: readonly string[];
  readonly snapshot: string | null;
  /** The most recent traces mast local received, newest first. */
  readonly traces?: readonly TraceView[];
  /** Each Gateway server port and where the gateway serves it on this machine. */
  readonly gatewayPorts?: ReadonlyArray<{ readonly server: number; readonly local: number }>;
}

/** Colours the screenshot test looks for. */
export const COLORS = {
  gateway: '#1f6feb',
  service: '#2da44e',
  unknown: '#8c959f',
  edge: '#57606a',
  error: '#cf222e',
  /** The box around the versions of one app (Kiali's app box): light, never a node's colour. */
  app: '#f6f8fa',
} as const;
export const NODE_RADIUS = 30;

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** An edge's label: its traffic, its errors and latency (HTTP, gRPC) or bytes (TCP), and how much of it is mTLS. */
export function edgeLabel(e: GraphEdge): string {
  const mtls = e.mtls >= 0.995 ? ' · mTLS' : e.mtls > 0 ? ` · mTLS ${Math.round(e.mtls * 100)}%` : '';
  if (e.protocol === 'tcp') return `tcp · ${e.rps} conn/s · ${e.bytesPerSecond ?? 0} B/s${mtls}`;
  return `${e.protocol === 'grpc' ? 'grpc · ' : ''}${e.rps} rps · ${(e.errorRate * 100).toFixed(1)}% err · p99 ${e.p99Ms ?? '-'} ms${mtls}`;
}

/** A box behind the versions of each app that has more than one, as Kiali groups a versioned app graph. */
function appBoxes(nodes: readonly GraphNode[]): string[] {
  const byApp = new Map<string, GraphNode[]>();
  for (const n of nodes) if (n.version) byApp.set(n.app, [...(byApp.get(n.app) ?? []), n]);
  return [...byApp]
    .filter(([, versions]) => versions.length > 1)
    .map(([app, versions]) => {
      const x0 = Math.min(...versions.map((n) => n.x)) - NODE_RADIUS - 22;
      const x1 = Math.max(...versions.map((n) => n.x)) + NODE_RADIUS + 22;
      const y0 = Math.min(...versions.map((n) => n.y)) - NODE_RADIUS - 26;
      const y1 = Math.max(...versions.map((n) => n.y)) + NODE_RADIUS + 30;
      return (
        `<g class="app" data-app="${esc(app)}"><rect x="${x0}" y="${y0}" width="${x1 - x0}" height="${y1 - y0}" rx="10" fill="${COLORS.app}" stroke="#d0d7de"/>` +
        `<text x="${x0 + 8}" y="${y0 + 15}" font-size="12" fill="${COLORS.edge}">${esc(app)}</text></g>`
      );
    });
}

export function renderSvg(graph: Graph): string {
  const at = new Map(graph.nodes.map((n) => [n.id, n]));
  const width = Math.max(...graph.nodes.map((n) => n.x)) + 160;
  const height = Math.max(...graph.nodes.map((n) => n.y)) + 90;
  const edges = graph.edges.map((e) => {
    const a = at.get(e.source);
    const b = at.get(e.destination);
    if (!a || !b) return '';
    const color = e.errorRate > 0.05 ? COLORS.error : COLORS.edge;
    // Plain-text traffic dashed, as Kiali marks the edges without its lock.
    const dash = e.mtls >= 0.995 ? '' : ' stroke-dasharray="6 4"';
    return (
      `<g class="edge${e.mtls >= 0.995 ? ' mtls' : ''}" data-source="${esc(e.source)}" data-destination="${esc(e.destination)}" data-protocol="${e.protocol}">` +
      `<line x1="${a.x}" y1="${a.y}" x2="${b.x}" y2="${b.y}" stroke="${color}" stroke-width="3"${dash} marker-end="url(#arrow)"/>` +
      `<text x="${(a.x + b.x) / 2}" y="${(a.y + b.y) / 2 - 8}" text-anchor="middle" font-size="11" fill="${color}">${esc(edgeLabel(e))}</text></g>`
    );
  });
  const fill = { gateway: COLORS.gateway, service: COLORS.service, unknown: COLORS.unknown } as const;
  const nodes = graph.nodes.map(
    (n) =>
      `<g class="node" data-id="${esc(n.id)}"><circle cx="${n.x}" cy="${n.y}" r="${NODE_RADIUS}" fill="${fill[n.kind]}"/>` +
      `<text x="${n.x}" y="${n.y + NODE_RADIUS + 15}" text-anchor="middle" font-size="13" font-weight="bold">${esc(n.app)}</text>` +
      (n.version ? `<text x="${n.x}" y="${n.y + 5}" text-anchor="middle" font-size="13" fill="#fff">${esc(n.version)}</text>` : '') +
      '</g>',
  );
  return (
    `<svg id="graph" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">` +
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="${NODE_RADIUS / 3 + 10}" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="${COLORS.edge}"/></marker></defs>` +
    `${appBoxes(graph.nodes).join('')}${edges.join('')}${nodes.join('')}</svg>`
  );
}

export function renderBody(m: PageModel): string {
  const rows = m.proxies
    .map(
      (p) =>
        `<tr><td>${esc(p.id)}</td><td>${esc(p.mode)}</td><td>${esc(p.version)}</td><td class="${esc(p.status)}">${esc(p.status)}</td></tr>`,
    )
    .join('');
  const ports = (m.gatewayPorts ?? []).map((p) => `<tr><td>${p.server}</td><td>127.0.0.1:${p.local}</td></tr>`).join('');
  const findings = m.findings.length ? `<ul>${m.findings.map((f) => `<li>${esc(f)}</li>`).join('')}</ul>` : '<p>none</p>';
  return (
    `<h1>mast local</h1><p>snapshot ${esc(m.snapshot ?? 'none')}</p>${renderSvg(m.graph)}` +
    `<h2>Proxies</h2><table><tr><th>name</th><th>mode</th><th>version</th><th>status</th></tr>${rows}</table>` +
    `<h2>Gateway ports</h2><table><tr><th>Gateway port</th><th>served on</th></tr>${ports}</table>` +
    `<h2>Findings</h2>${findings}` +
    `<h2>Traces</h2>${m.traces?.length ? m.traces.map(renderWaterfall).join('') : '<p>none yet: send a request through the gateway</p>'}`
  );
}

const fmtMs = (ms: number) => (ms < 10 ? ms.toFixed(2) : ms.toFixed(1));

/** Span bar colours: none of the graph's node colours (the screenshot test counts those as nodes). */
export const SPAN_COLORS = { client: '#8250df', server: '#bf8700', error: COLORS.error } as const;

/**
 * One trace as a waterfall: a row per span (parents first, indented by depth), its bar placed and
 * sized by its start and duration within the trace; an error span red.
 */
export function renderWaterfall(t: TraceView): string {
  const total = Math.max(t.endMs - t.startMs, 0.001);
  const depth = new Map<string, number>();
  const rows = t.spans.map((s) => {
    const d = s.parentSpanId && depth.has(s.parentSpanId) ? depth.get(s.parentSpanId)! + 1 : 0;
    depth.set(s.spanId, d);
    const left = ((s.startMs - t.startMs) / total) * 100;
    const width = Math.max(((s.endMs - s.startMs) / total) * 100, 0.5);
    const color = s.error ? SPAN_COLORS.error : s.kind === 'SERVER' ? SPAN_COLORS.server : SPAN_COLORS.client;
    return (
      `<tr class="span" data-span="${esc(s.spanId)}" data-parent="${esc(s.parentSpanId ?? '')}">` +
      `<td style="padding-left:${8 + d * 16}px">${esc(s.service)} <small>${esc(s.kind)}</small><br><small>${esc(s.name)}</small></td>` +
      `<td>${esc(s.status)}</td><td>${fmtMs(s.endMs - s.startMs)} ms</td>` +
      `<td style="width:420px"><div style="position:relative;height:12px"><div class="bar" style="position:absolute;left:${left.toFixed(2)}%;width:${width.toFixed(2)}%;height:12px;background:${color}"></div></div></td></tr>`
    );
  });
  const root = t.spans[0];
  return (
    `<details class="trace" data-trace="${esc(t.traceId)}" open><summary>${esc(root?.name ?? t.traceId)} · ${t.spans.length} spans · ${fmtMs(total)} ms · <code>${esc(t.traceId)}</code></summary>` +
    `<table><tr><th>service</th><th>status</th><th>duration</th><th>timeline</th></tr>${rows.join('')}</table></details>`
  );
}

export function renderPage(m: PageModel): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>mast local</title>
<style>body{font-family:sans-serif;margin:24px;color:#24292f}table{border-collapse:collapse}td,th{border:1px solid #d0d7de;padding:4px 10px;text-align:left}.SYNCED{color:${COLORS.service}}.STALE,.NACK{color:${COLORS.error}}</style>
</head><body><main id="body">${renderBody(m)}</main>
<script>setInterval(async()=>{try{const r=await fetch('/body');if(r.ok)document.getElementById('body').innerHTML=await r.text()}catch{}},2000)</script>
</body></html>
`;
}
