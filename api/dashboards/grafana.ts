/**
 * A small builder for Grafana dashboards (JSON model, schema version 39): rows of panels laid out
 * left to right on Grafana's 24-column grid, every query against the dashboard's `$datasource`
 * variable, template variables of the kinds mast's dashboards use. Pure data: it opens nothing.
 */

/** The data source every panel reads: the dashboard's `datasource` variable (any Prometheus). */
export const DATASOURCE = { type: 'prometheus', uid: '${datasource}' } as const;

export interface Query {
  /** PromQL; `$__rate_interval` and the dashboard's variables are Grafana's to fill in. */
  readonly expr: string;
  /** Grafana's legend template, e.g. `{{source_workload}} {{response_code}}`. */
  readonly legend?: string;
}

export type PanelKind = 'stat' | 'timeseries' | 'table';
/** Grafana's standard units this builder uses. */
export type Unit = 'reqps' | 'percentunit' | 's' | 'decbytes' | 'Bps' | 'short' | 'none';

export interface PanelSpec {
  readonly title: string;
  readonly kind: PanelKind;
  readonly description: string;
  readonly unit: Unit;
  readonly queries: readonly Query[];
  /** Width in grid columns (of 24). @default 12 (timeseries, table), 6 (stat) */
  readonly width?: number;
}

export interface RowSpec {
  readonly title: string;
  readonly panels: readonly PanelSpec[];
}

/** A template variable: a query over Prometheus' labels, or a fixed list. */
export type VariableSpec =
  | {
      readonly kind: 'query';
      readonly name: string;
      readonly label: string;
      /** Grafana's Prometheus variable query: `label_values(...)` or `query_result(...)`. */
      readonly query: string;
      /** For `query_result`: the regular expression whose first group is the value. */
      readonly regex?: string;
      /** Several values may be picked, and an "All" that matches every one (`.*`). */
      readonly multi?: boolean;
    }
  | {
      readonly kind: 'custom';
      readonly name: string;
      readonly label: string;
      readonly options: readonly string[];
      readonly current: string;
    };

export interface DashboardSpec {
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  readonly tags: readonly string[];
  readonly variables: readonly VariableSpec[];
  readonly rows: readonly RowSpec[];
}

const HEIGHT: Record<PanelKind, number> = { stat: 4, timeseries: 8, table: 8 };

/** The Grafana JSON model of a dashboard: rows as panels of type `row`, each followed by its panels. */
export function grafanaDashboard(spec: DashboardSpec): Record<string, unknown> {
  const panels: Record<string, unknown>[] = [];
  let id = 0;
  let y = 0;
  for (const row of spec.rows) {
    panels.push({ id: ++id, type: 'row', title: row.title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] });
    y += 1;
    let x = 0;
    let lineHeight = 0;
    for (const p of row.panels) {
      const w = p.width ?? (p.kind === 'stat' ? 6 : 12);
      if (x + w > 24) {
        y += lineHeight;
        x = 0;
        lineHeight = 0;
      }
      const h = HEIGHT[p.kind];
      panels.push(panel(++id, p, { h, w, x, y }));
      x += w;
      lineHeight = Math.max(lineHeight, h);
    }
    y += lineHeight;
  }
  return {
    uid: spec.uid,
    title: spec.title,
    description: spec.description,
    tags: [...spec.tags],
    editable: true,
    graphTooltip: 1,
    refresh: '30s',
    schemaVersion: 39,
    time: { from: 'now-30m', to: 'now' },
    timezone: 'browser',
    templating: { list: [datasourceVariable(), ...spec.variables.map(variable)] },
    annotations: { list: [] },
    links: [],
    panels,
  };
}

function panel(id: number, p: PanelSpec, gridPos: { h: number; w: number; x: number; y: number }): Record<string, unknown> {
  const refIds = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  const options =
    p.kind === 'stat'
      ? { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value', graphMode: 'area' }
      : p.kind === 'table'
        ? { showHeader: true }
        : { legend: { displayMode: 'table', placement: 'right', calcs: ['mean', 'max'] }, tooltip: { mode: 'multi' } };
  return {
    id,
    type: p.kind,
    title: p.title,
    description: p.description,
    datasource: DATASOURCE,
    gridPos,
    fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
    options,
    targets: p.queries.map((q, i) => ({
      refId: refIds[i],
      datasource: DATASOURCE,
      expr: q.expr,
      legendFormat: q.legend ?? '__auto',
      ...(p.kind === 'table' ? { format: 'table', instant: true } : {}),
    })),
  };
}

function datasourceVariable(): Record<string, unknown> {
  // No `current`: Grafana picks the first Prometheus data source (and its schema wants text and value when one is given).
  return { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', hide: 0 };
}

function variable(v: VariableSpec): Record<string, unknown> {
  if (v.kind === 'custom')
    return {
      name: v.name,
      label: v.label,
      type: 'custom',
      query: v.options.join(','),
      current: { text: v.current, value: v.current },
      options: v.options.map((o) => ({ text: o, value: o, selected: o === v.current })),
      hide: 0,
    };
  return {
    name: v.name,
    label: v.label,
    type: 'query',
    datasource: DATASOURCE,
    query: { query: v.query, refId: `${v.name}-query` },
    regex: v.regex ?? '',
    refresh: 2,
    sort: 1,
    multi: v.multi ?? false,
    includeAll: v.multi ?? false,
    ...(v.multi ? { allValue: '.*' } : {}),
    hide: 0,
  };
}
