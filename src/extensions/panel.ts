/**
 * What "Explain this panel" reads from the context Grafana hands a
 * dashboard panel-menu link (PluginExtensionPanelContext): which panels it
 * offers itself on, the panel's queries with their variables and datasources
 * resolved, the absolute time range, and the series of the panel's data.
 */
import {
  type DataFrame,
  type Field,
  FieldType,
  type PluginExtensionPanelContext,
  type ScopedVars,
  type TimeRange as GrafanaTimeRange,
  rangeUtil,
} from '@grafana/data';
import { lastValueFrom } from 'rxjs';
import { config, getBackendSrv, getDataSourceSrv, getTemplateSrv } from '@grafana/runtime';
import type { DataQuery } from '@grafana/schema';
import {
  DatasourceLoki,
  DatasourcePrometheus,
  type DataFrame as WireFrame,
  type Query,
  type TimeRange,
} from '../api/wire/explain';
import type { SeriesInput } from './summarize';

/**
 * Panel types the link is never offered on: they draw no series MeshWatch can
 * summarize (text and lists), or show logs, traces and graphs whose meaning is
 * not in numbers over time. Every other panel type is offered the link when
 * one of its queries goes to Prometheus or Loki; a panel that turns out to
 * hold no numeric series over time (a table of labels, say) gets a modal
 * that says so.
 */
export const UNEXPLAINED_PANEL_TYPES = [
  'text',
  'news',
  'dashlist',
  'alertlist',
  'annolist',
  'welcome',
  'gettingstarted',
  'logs',
  'traces',
  'nodeGraph',
  'flamegraph',
] as const;

/** Datasource types whose queries the backend can re-run and check. */
export const EXPLAINED_DATASOURCES: string[] = [DatasourcePrometheus, DatasourceLoki];

/** The context as Grafana gives it, with the panel description some versions add. */
export type PanelContext = PluginExtensionPanelContext & { description?: string };

interface TargetWithExpr extends DataQuery {
  expr?: string;
  legendFormat?: string;
}

/**
 * A target's datasource as {type, uid}: its own reference (a template
 * variable in the uid resolved with the panel's scoped variables), looked up
 * in Grafana's datasource list; the default datasource for a target without
 * one. Undefined when Grafana knows no such datasource.
 */
export function targetDatasource(
  target: DataQuery,
  scopedVars?: ScopedVars
): { type: string; uid: string } | undefined {
  const ref = target.datasource;
  const uid = ref?.uid ? getTemplateSrv().replace(ref.uid, scopedVars) : undefined;
  // The synchronous lookup (configure() cannot wait); Grafana's newer
  // getDataSourceInstanceSettings is async.
  // eslint-disable-next-line @typescript-eslint/no-deprecated
  const settings = getDataSourceSrv().getInstanceSettings(uid ? { ...ref, uid } : ref?.type ? ref : null);
  if (settings) {
    return { type: settings.type, uid: settings.uid };
  }
  return ref?.type && uid ? { type: ref.type, uid } : undefined;
}

/** Whether the link is offered on this panel: a type it can explain, and a visible Prometheus or Loki query. */
export function canExplain(ctx: PanelContext | undefined): boolean {
  if (!ctx || (UNEXPLAINED_PANEL_TYPES as readonly string[]).includes(ctx.pluginId)) {
    return false;
  }
  return (ctx.targets ?? []).some((t) => {
    const ds = !t.hide ? targetDatasource(t, ctx.scopedVars) : undefined;
    return !!ds && EXPLAINED_DATASOURCES.includes(ds.type);
  });
}

/** The absolute time range of the panel: its data's when loaded, else the dashboard's raw range resolved now. */
export function panelRange(ctx: PanelContext): GrafanaTimeRange {
  return ctx.data?.timeRange ?? rangeUtil.convertRawToRange(ctx.timeRange, ctx.timeZone);
}

export function wireRange(r: GrafanaTimeRange): TimeRange {
  return { from: r.from.toISOString(), to: r.to.toISOString() };
}

/** Prometheus' default scrape interval, which Grafana's $__rate_interval assumes when none is configured. */
const SCRAPE_MS = 15_000;

/**
 * Grafana's built-in interval variables for the panel's range, as its
 * datasources substitute them at query time ($__interval, $__rate_interval,
 * $__range, …): the backend runs and parses plain PromQL and LogQL.
 */
export function builtinVars(range: GrafanaTimeRange, intervalMs?: number): ScopedVars {
  const span = Math.max(1, range.to.valueOf() - range.from.valueOf());
  const interval =
    intervalMs && intervalMs > 0 ? intervalMs : Math.max(SCRAPE_MS, Math.ceil(span / 1000 / 1000) * 1000);
  const rate = Math.max(interval + SCRAPE_MS, 4 * SCRAPE_MS);
  const s = (ms: number) => `${Math.max(1, Math.round(ms / 1000))}s`;
  const v = (text: string) => ({ text, value: text });
  return {
    __interval: v(s(interval)),
    __interval_ms: v(String(interval)),
    __rate_interval: v(s(rate)),
    __rate_interval_ms: v(String(rate)),
    __range: v(s(span)),
    __range_s: v(String(Math.round(span / 1000))),
    __range_ms: v(String(span)),
  };
}

/** A value as a regular expression matches it literally (Prometheus' and Loki's RE2 syntax). */
export function escapeRegex(v: string): string {
  return v.replace(/[\\^$*+?.()|[\]{}]/g, '\\$&');
}

/**
 * How a variable's value goes into a PromQL or LogQL expression, as
 * Grafana's Prometheus and Loki datasources interpolate it: a single value
 * as it is; several (a multi-value or "All" variable) as a regular
 * expression alternation of the values, escaped, for =~ matchers.
 */
export function queryFormat(value: unknown): string {
  if (Array.isArray(value)) {
    return value.length === 1
      ? escapeRegex(String(value[0]))
      : `(${value.map((v) => escapeRegex(String(v))).join('|')})`;
  }
  return String(value ?? '');
}

/**
 * The panel's queries for the backend: visible targets of a Prometheus or
 * Loki datasource that carry an expression, with the dashboard's variables
 * (and the panel's repeat values) and Grafana's interval variables resolved.
 */
export function panelQueries(ctx: PanelContext, range: GrafanaTimeRange): Query[] {
  const vars: ScopedVars = { ...builtinVars(range, ctx.data?.request?.intervalMs), ...(ctx.scopedVars ?? {}) };
  const out: Query[] = [];
  for (const t of (ctx.targets ?? []) as TargetWithExpr[]) {
    const ds = t.hide ? undefined : targetDatasource(t, ctx.scopedVars);
    if (!ds || !EXPLAINED_DATASOURCES.includes(ds.type) || typeof t.expr !== 'string' || !t.expr.trim()) {
      continue;
    }
    out.push({ refId: t.refId, datasource: ds, expr: getTemplateSrv().replace(t.expr, vars, queryFormat) });
  }
  return out;
}

/** The panel's title with its variables resolved (as text, as the panel shows them). */
export function panelTitle(ctx: PanelContext): string {
  return getTemplateSrv().replace(ctx.title ?? '', ctx.scopedVars, 'text');
}

/**
 * The numeric series of a panel's frames: each number field of a frame with
 * a time field, named as Grafana names it on the panel.
 */
export function seriesFromFrames(frames: DataFrame[]): SeriesInput[] {
  const out: SeriesInput[] = [];
  for (const frame of frames) {
    const time = frame.fields.find((f) => f.type === FieldType.time);
    if (!time) {
      continue;
    }
    const times = Array.from(time.values as ArrayLike<unknown>, (t) =>
      typeof t === 'number' ? t : typeof t === 'string' ? Date.parse(t) : NaN
    );
    for (const field of frame.fields) {
      if (field.type !== FieldType.number) {
        continue;
      }
      out.push({
        refId: frame.refId ?? '',
        name: displayName(field, frame),
        labels: field.labels ? { ...field.labels } : undefined,
        unit: field.config?.unit,
        times,
        values: Array.from(field.values as ArrayLike<number | null>),
      });
    }
  }
  return out;
}

/**
 * A field's name as the panel shows it: its configured display name, the
 * datasource's (a Prometheus legend), its labels, or the frame's or field's
 * name. (Grafana's getFieldDisplayName caches into the field, and the
 * context a link gets is read-only.)
 */
function displayName(field: Field, frame: DataFrame): string {
  return (
    field.config?.displayName || field.config?.displayNameFromDS || labelsText(field.labels) || frame.name || field.name
  );
}

/** The legend format of each target (by refId) that sets one, as Prometheus and Loki queries do. */
export function panelLegends(ctx: PanelContext): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of (ctx.targets ?? []) as TargetWithExpr[]) {
    if (typeof t.legendFormat === 'string' && t.legendFormat && t.legendFormat !== '__auto') {
      out[t.refId] = getTemplateSrv().replace(t.legendFormat, ctx.scopedVars);
    }
  }
  return out;
}

/** A legend format ("{{pod}} on {{node}}") filled in from a series' labels, as Grafana's Prometheus datasource does. */
export function legendName(format: string, labels: Record<string, string> = {}): string {
  return format.replace(/\{\{\s*(.+?)\s*\}\}/g, (_m, name: string) => labels[name] ?? '');
}

/** The series explain/data returned, named by their targets' legend formats when they have one. */
export function seriesFromWire(frames: WireFrame[], legends: Record<string, string> = {}): SeriesInput[] {
  return frames.map((f) => ({
    refId: f.refId,
    name: (legends[f.refId] && legendName(legends[f.refId], f.labels)) || f.name || labelsText(f.labels) || f.refId,
    labels: f.labels,
    times: f.times ?? [],
    values: f.values ?? [],
  }));
}

export function labelsText(labels?: Record<string, string>): string {
  const entries = Object.entries(labels ?? {}).filter(([k]) => k !== '__name__');
  return entries.length ? `{${entries.map(([k, v]) => `${k}="${v}"`).join(', ')}}` : '';
}

/**
 * The Grafana Explore URL of a query on a datasource over a time range
 * (Explore's panes state, schema version 1), under Grafana's sub path when it has one.
 */
export function exploreUrl(ds: { type: string; uid: string }, expr: string, range: TimeRange): string {
  const panes = {
    explain: {
      datasource: ds.uid,
      queries: [{ refId: 'A', expr, datasource: ds }],
      range: { from: String(Date.parse(range.from)), to: String(Date.parse(range.to)) },
    },
  };
  return `${config.appSubUrl ?? ''}/explore?schemaVersion=1&panes=${encodeURIComponent(JSON.stringify(panes))}&orgId=${config.bootData?.user?.orgId ?? 1}`;
}

/** The datasource a suggested query opens in: the panel's own of that type, else Grafana's first of it. */
export function datasourceFor(type: string, queries: Query[]): { type: string; uid: string } | undefined {
  const own = queries.find((q) => q.datasource.type === type)?.datasource;
  if (own) {
    return own;
  }
  // eslint-disable-next-line @typescript-eslint/no-deprecated
  const ds = getDataSourceSrv().getList({ type })[0];
  return ds ? { type: ds.type, uid: ds.uid } : undefined;
}

interface DashboardPanel {
  id?: number;
  description?: string;
  panels?: DashboardPanel[];
}

/** Finds a panel by id among a dashboard's panels and its rows' panels. */
function findPanel(panels: DashboardPanel[] | undefined, id: number): DashboardPanel | undefined {
  for (const p of panels ?? []) {
    if (p.id === id) {
      return p;
    }
    const nested = findPanel(p.panels, id);
    if (nested) {
      return nested;
    }
  }
  return undefined;
}

/**
 * The panel's description, variables resolved: the context's when it has
 * one, else read from the dashboard's JSON (Grafana's context carries no
 * description). Empty when the dashboard cannot be read.
 */
export async function panelDescription(ctx: PanelContext): Promise<string> {
  if (ctx.description !== undefined || !ctx.dashboard?.uid) {
    return getTemplateSrv().replace(ctx.description ?? '', ctx.scopedVars, 'text');
  }
  try {
    const res = await lastValueFrom(
      getBackendSrv().fetch<{ dashboard?: { panels?: DashboardPanel[] } }>({
        url: `/api/dashboards/uid/${encodeURIComponent(ctx.dashboard.uid)}`,
        showErrorAlert: false,
      })
    );
    const found = findPanel(res.data?.dashboard?.panels, ctx.id)?.description;
    return typeof found === 'string' ? getTemplateSrv().replace(found, ctx.scopedVars, 'text') : '';
  } catch {
    return '';
  }
}
