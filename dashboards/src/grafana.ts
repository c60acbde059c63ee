// Small builders for the Grafana dashboard JSON model (schemaVersion 39, i.e.
// Grafana 10.4 and later). Only the fields we care about are written: Grafana
// fills in its defaults on import, which keeps the committed JSON short enough
// to review in a diff.

export const SCHEMA_VERSION = 39;

/** Every panel and variable queries the data source picked in the `datasource` variable. */
export const DS = { type: 'prometheus', uid: '${datasource}' } as const;

export interface Query {
  expr: string;
  legend?: string;
}

export interface PanelSpec {
  kind: 'timeseries' | 'heatmap' | 'bargauge' | 'stat' | 'table';
  title: string;
  /** The question this panel answers; shown as the panel's (i) tooltip. */
  description: string;
  queries: Query[];
  unit?: string;
  w: number;
  h: number;
  /** Repeat the panel once per value of this variable (e.g. one heatmap per VM). */
  repeat?: string;
  /** A dashed red line (timeseries) or a red step (stat) at this value. */
  threshold?: number;
  /** Value mappings for stat panels, e.g. 0 → "down". */
  mappings?: unknown[];
  /** Instant queries only: bar gauges, stats and tables show "now", not a trend. */
  instant?: boolean;
}

export interface RowSpec {
  kind: 'row';
  title: string;
}

export type Item = PanelSpec | RowSpec;

const REF_IDS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

function targets(p: PanelSpec) {
  const instant = p.instant ?? (p.kind === 'bargauge' || p.kind === 'stat' || p.kind === 'table');
  return p.queries.map((q, i) => ({
    datasource: DS,
    editorMode: 'code',
    expr: q.expr,
    // A heatmap reads cumulative `le` buckets; Grafana de-accumulates them only with this format.
    format: p.kind === 'heatmap' ? 'heatmap' : p.kind === 'table' ? 'table' : 'time_series',
    instant,
    legendFormat: p.kind === 'heatmap' ? '{{le}}' : (q.legend ?? '__auto'),
    range: !instant,
    refId: REF_IDS[i],
  }));
}

function thresholdSteps(threshold?: number) {
  const steps: { color: string; value: number | null }[] = [{ color: 'green', value: null }];
  if (threshold !== undefined) steps.push({ color: 'red', value: threshold });
  return { mode: 'absolute', steps };
}

function fieldConfig(p: PanelSpec) {
  const defaults: Record<string, unknown> = { unit: p.unit ?? 'short', thresholds: thresholdSteps(p.threshold) };
  if (p.mappings) defaults.mappings = p.mappings;
  if (p.kind === 'timeseries') {
    defaults.min = 0;
    defaults.custom = {
      drawStyle: 'line',
      fillOpacity: 10,
      lineWidth: 1,
      showPoints: 'never',
      spanNulls: false,
      // Draw the alert threshold as a dashed line so the panel shows how close we are.
      thresholdsStyle: { mode: p.threshold !== undefined ? 'dashed' : 'off' },
    };
  }
  if (p.kind === 'heatmap') defaults.custom = { scaleDistribution: { type: 'linear' } };
  return { defaults, overrides: [] };
}

function options(p: PanelSpec): Record<string, unknown> {
  switch (p.kind) {
    case 'timeseries':
      return {
        legend: { calcs: ['mean', 'max'], displayMode: 'table', placement: 'bottom', showLegend: true },
        tooltip: { mode: 'multi', sort: 'desc' },
      };
    case 'heatmap':
      return {
        // The exporter already bucketed the data: do not let Grafana re-bucket it.
        calculate: false,
        cellGap: 1,
        color: { exponent: 0.5, fill: 'dark-orange', mode: 'scheme', scale: 'exponential', scheme: 'Oranges', steps: 64 },
        filterValues: { le: 1e-9 },
        legend: { show: true },
        rowsFrame: { layout: 'auto' },
        tooltip: { mode: 'single', yHistogram: true },
        yAxis: { axisPlacement: 'left', unit: 's' },
      };
    case 'bargauge':
      return {
        displayMode: 'gradient',
        orientation: 'horizontal',
        reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
        showUnfilled: true,
      };
    case 'stat':
      return {
        colorMode: 'background',
        graphMode: 'none',
        reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
        textMode: 'auto',
      };
    case 'table':
      return { showHeader: true };
  }
}

function panel(p: PanelSpec, id: number, gridPos: GridPos) {
  const out: Record<string, unknown> = {
    id,
    type: p.kind,
    title: p.title,
    description: p.description,
    datasource: DS,
    gridPos,
    fieldConfig: fieldConfig(p),
    options: options(p),
    targets: targets(p),
  };
  if (p.kind === 'table') {
    // An info metric's value is always 1: show its labels, not the sample.
    out.transformations = [{ id: 'organize', options: { excludeByName: { Time: true, Value: true, __name__: true } } }];
  }
  if (p.repeat) {
    out.repeat = p.repeat;
    out.repeatDirection = 'h';
    out.maxPerRow = 4;
  }
  return out;
}

interface GridPos {
  h: number;
  w: number;
  x: number;
  y: number;
}

/** Places panels left to right on Grafana's 24-column grid, wrapping, with a full-width line per row. */
export function layout(items: Item[]) {
  const panels: Record<string, unknown>[] = [];
  let x = 0;
  let y = 0;
  let lineHeight = 0;
  const newLine = () => {
    y += lineHeight;
    x = 0;
    lineHeight = 0;
  };
  for (const item of items) {
    const id = panels.length + 1;
    if (item.kind === 'row') {
      newLine();
      panels.push({ id, type: 'row', title: item.title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] });
      y += 1;
      continue;
    }
    if (x + item.w > 24) newLine();
    panels.push(panel(item, id, { h: item.h, w: item.w, x, y }));
    x += item.w;
    lineHeight = Math.max(lineHeight, item.h);
  }
  return panels;
}

export function datasourceVariable() {
  return {
    current: {},
    hide: 0,
    includeAll: false,
    label: 'Data source',
    multi: false,
    name: 'datasource',
    options: [],
    query: 'prometheus',
    refresh: 1,
    regex: '',
    type: 'datasource',
  };
}

export interface QueryVariableSpec {
  name: string;
  label: string;
  query: string;
  multi: boolean;
  includeAll: boolean;
}

/** A label_values() variable; "All" becomes `.*` so selectors can always use `=~"$var"`. */
export function queryVariable(v: QueryVariableSpec) {
  return {
    allValue: v.includeAll ? '.*' : undefined,
    current: {},
    datasource: DS,
    definition: v.query,
    hide: 0,
    includeAll: v.includeAll,
    label: v.label,
    multi: v.multi,
    name: v.name,
    options: [],
    query: { query: v.query, refId: 'PrometheusVariableQueryEditor-VariableQuery' },
    // 2 = refresh on time range change: VMs come and go.
    refresh: 2,
    regex: '',
    // 3 = numerical ascending, so vCPU 10 sorts after vCPU 9.
    sort: 3,
    type: 'query',
  };
}

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  variables: unknown[];
  items: Item[];
  links?: unknown[];
}

export function dashboard(d: DashboardSpec) {
  return {
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: 'grafana', uid: '-- Grafana --' },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
          name: 'Annotations & Alerts',
          type: 'dashboard',
        },
      ],
    },
    description: d.description,
    editable: true,
    fiscalYearStartMonth: 0,
    // Shared crosshair: a latency spike lines up with the exit-rate panel below it.
    graphTooltip: 1,
    id: null,
    links: d.links ?? [],
    panels: layout(d.items),
    refresh: '30s',
    schemaVersion: SCHEMA_VERSION,
    tags: ['kvmlens', 'kvm'],
    templating: { list: d.variables },
    time: { from: 'now-1h', to: 'now' },
    timepicker: {},
    timezone: 'browser',
    title: d.title,
    uid: d.uid,
    version: 1,
  };
}
