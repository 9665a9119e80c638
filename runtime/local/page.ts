/**
 * The admin web page of `mast local`: the service graph as inline SVG (rendered here, so it
 * shows without JavaScript), each proxy's sync state, the validation findings and the recent
 * traces, each a waterfall of its spans. A small script re-fetches the page body every two
 * seconds. Pure.
 */
import type { Graph } from './graph';
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
export const COLORS = { gateway: '#1f6feb', service: '#2da44e', edge: '#57606a', error: '#cf222e' } as const;
export const NODE_RADIUS = 34;

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function renderSvg(graph: Graph): string {
  const at = new Map(graph.nodes.map((n) => [n.id, n]));
  const width = Math.max(...graph.nodes.map((n) => n.x)) + 140;
  const height = Math.max(...graph.nodes.map((n) => n.y)) + 90;
  const edges = graph.edges.map((e) => {
    const a = at.get(e.source);
    const b = at.get(e.destination);
    if (!a || !b) return '';
    const color = e.errorRate > 0.05 ? COLORS.error : COLORS.edge;
    const label = `${e.protocol === 'grpc' ? 'grpc · ' : ''}${e.rps} rps · ${(e.errorRate * 100).toFixed(1)}% err · p99 ${e.p99Ms ?? '-'} ms`;
    return `<g class="edge" data-source="${esc(e.source)}" data-destination="${esc(e.destination)}"><line x1="${a.x}" y1="${a.y}" x2="${b.x}" y2="${b.y}" stroke="${color}" stroke-width="3" marker-end="url(#arrow)"/><text x="${(a.x + b.x) / 2}" y="${(a.y + b.y) / 2 - 8}" text-anchor="middle" font-size="11" fill="${color}">${esc(label)}</text></g>`;
  });
  const nodes = graph.nodes.map(
    (n) =>
      `<g class="node" data-id="${esc(n.id)}"><circle cx="${n.x}" cy="${n.y}" r="${NODE_RADIUS}" fill="${n.kind === 'gateway' ? COLORS.gateway : COLORS.service}"/>` +
      `<text x="${n.x}" y="${n.y + NODE_RADIUS + 16}" text-anchor="middle" font-size="13" font-weight="bold">${esc(n.id)}</text>` +
      (n.versions.length
        ? `<text x="${n.x}" y="${n.y + NODE_RADIUS + 31}" text-anchor="middle" font-size="11">${esc(n.versions.join(' '))}</text>`
        : '') +
      '</g>',
  );
  return (
    `<svg id="graph" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">` +
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="${NODE_RADIUS / 3 + 10}" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="${COLORS.edge}"/></marker></defs>` +
    `${edges.join('')}${nodes.join('')}</svg>`
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
