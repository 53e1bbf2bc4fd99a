/*
 * The stand-in panel's data: a Prometheus request-rate query over the last
 * hour, as a data frame with synthetic but steady values, and the
 * PluginExtensionPanelContext Grafana builds for a dashboard panel
 * (createExtensionContext in PanelMenuBehavior).
 *
 * /preview/panel?case=… picks other panels, for "Explain this panel":
 *   - data (the default): the request rates above, loaded;
 *   - nodata: the same query, not run yet (Grafana's context has no data,
 *     as for a panel below the fold): the link re-runs it on the backend;
 *   - empty: a query that matches nothing (HTTP 999 responses), run and empty;
 *   - oversized: memory of 300 pods, loaded, a few of which change;
 *   - text: a text panel, which no link explains.
 */
import {
  type DataFrame,
  type DataQueryRequest,
  FieldColorModeId,
  FieldType,
  LoadingState,
  type PanelData,
  type PluginExtensionPanelContext,
  type TimeRange,
  createDataFrame,
  dateTime,
} from '@grafana/data';
import type { DataQuery } from '@grafana/schema';

export const DASHBOARD = {
  uid: 'meshwatch-preview',
  title: 'Mesh overview (preview stand-in)',
  tags: ['meshwatch', 'istio'],
};

export const PANEL = {
  id: 2,
  pluginId: 'timeseries',
  title: 'Request rate by service',
  description: 'Requests per second received by each mesh service (Istio destination reporter).',
};

export interface PromQuery extends DataQuery {
  expr: string;
  legendFormat?: string;
  range?: boolean;
}

export function panelTargets(datasourceUid: string): PromQuery[] {
  return [
    {
      refId: 'A',
      datasource: { type: 'prometheus', uid: datasourceUid },
      expr: 'sum by (destination_service_name) (rate(istio_requests_total{reporter="destination"}[5m]))',
      legendFormat: '{{destination_service_name}}',
      range: true,
    },
  ];
}

const SERVICES = ['productpage', 'reviews', 'ratings'];
const COLORS = ['green', 'yellow', 'blue'];

/** Last hour at 1-minute steps, ending at `now` (rounded to the minute). */
export function panelFrames(now: number): DataFrame[] {
  const end = Math.floor(now / 60000) * 60000;
  const times = Array.from({ length: 61 }, (_, i) => end - (60 - i) * 60000);
  return SERVICES.map((svc, s) =>
    createDataFrame({
      refId: 'A',
      name: svc,
      fields: [
        { name: 'Time', type: FieldType.time, values: times, config: {} },
        {
          name: 'Value',
          type: FieldType.number,
          labels: { destination_service_name: svc },
          // Set on the field: Grafana's field-config registry (which merges
          // panel defaults) lives in Grafana core, not in the npm packages.
          config: {
            displayNameFromDS: svc,
            unit: 'reqps',
            decimals: 1,
            color: { mode: FieldColorModeId.Fixed, fixedColor: COLORS[s] },
            custom: {
              drawStyle: 'line',
              lineWidth: 2,
              fillOpacity: 8,
              showPoints: 'never',
              lineInterpolation: 'smooth',
            },
          },
          values: times.map((_, i) => Math.round((12 - s * 3 + 2.5 * Math.sin(i / 6 + s) + (i % 7) * 0.15) * 10) / 10),
        },
      ],
    })
  );
}

export function panelData(frames: DataFrame[], datasourceUid: string, now: number): PanelData {
  const range: TimeRange = { from: dateTime(now - 3600000), to: dateTime(now), raw: { from: 'now-1h', to: 'now' } };
  const targets = panelTargets(datasourceUid);
  const request: DataQueryRequest<PromQuery> = {
    app: 'dashboard',
    requestId: 'preview-panel-2',
    dashboardUID: DASHBOARD.uid,
    panelId: PANEL.id,
    interval: '1m',
    intervalMs: 60000,
    range,
    scopedVars: {},
    targets,
    timezone: 'utc',
    startTime: now,
  };
  return { state: LoadingState.Done, series: frames, timeRange: range, request };
}

export const PANEL_CASES = ['data', 'nodata', 'empty', 'oversized', 'text'] as const;
export type PanelCase = (typeof PANEL_CASES)[number];

export function panelCase(v: unknown): PanelCase {
  return PANEL_CASES.find((c) => c === v) ?? 'data';
}

/** One stand-in panel: what the dashboard says of it, its targets and its data as Grafana's context carries them. */
export interface StandInPanel {
  id: number;
  pluginId: string;
  title: string;
  description: string;
  targets: PromQuery[];
  /** undefined: Grafana has not run the panel's queries. */
  data?: PanelData;
  /** A text panel's content. */
  text?: string;
}

const PODS = 300;
const MB = 1024 * 1024;

/** Working-set memory of PODS pods over the last hour: steady, but for one that jumps, one that leaks and one that stops reporting. */
export function oversizedFrames(now: number): DataFrame[] {
  const end = Math.floor(now / 60000) * 60000;
  const times = Array.from({ length: 61 }, (_, i) => end - (60 - i) * 60000);
  return Array.from({ length: PODS }, (_, p) => {
    const pod = `checkout-${String(p).padStart(3, '0')}`;
    const base = (80 + ((p * 37) % 160)) * MB;
    const values = times.map((_, i) => {
      const wobble = Math.sin(i / 5 + p) * 2 * MB;
      if (p === 17) {
        return (i >= 40 ? base * 3 : base) + wobble;
      }
      if (p === 203) {
        return base + i * 3 * MB + wobble;
      }
      if (p === 111 && i >= 45) {
        return null;
      }
      return base + wobble;
    });
    return createDataFrame({
      refId: 'A',
      name: pod,
      fields: [
        { name: 'Time', type: FieldType.time, values: times, config: {} },
        {
          name: 'Value',
          type: FieldType.number,
          labels: { pod },
          config: {
            displayNameFromDS: pod,
            unit: 'bytes',
            custom: { drawStyle: 'line', lineWidth: 1, fillOpacity: 0, showPoints: 'never' },
          },
          values,
        },
      ],
    });
  });
}

/** The stand-in panel of a case. */
export function standInPanel(c: PanelCase, datasourceUid: string, now: number): StandInPanel {
  switch (c) {
    case 'nodata':
      return { ...PANEL, targets: panelTargets(datasourceUid) };
    case 'empty': {
      const targets: PromQuery[] = [
        {
          refId: 'A',
          datasource: { type: 'prometheus', uid: datasourceUid },
          expr: 'sum by (destination_service_name) (rate(istio_requests_total{reporter="destination", response_code="999"}[5m]))',
          range: true,
        },
      ];
      const data = panelData([], datasourceUid, now);
      return {
        id: 5,
        pluginId: 'timeseries',
        title: 'HTTP 999 responses by service',
        description: 'A status code no service answers: the query matches nothing.',
        targets,
        data: { ...data, request: { ...data.request!, targets } },
      };
    }
    case 'oversized': {
      const targets: PromQuery[] = [
        {
          refId: 'A',
          datasource: { type: 'prometheus', uid: datasourceUid },
          expr: 'sum by (pod) (container_memory_working_set_bytes{namespace="shop", container!=""})',
          legendFormat: '{{pod}}',
          range: true,
        },
      ];
      const data = panelData(oversizedFrames(now), datasourceUid, now);
      return {
        id: 7,
        pluginId: 'timeseries',
        title: 'Memory of each pod',
        description: 'Working-set memory of every pod of the shop namespace.',
        targets,
        data: { ...data, request: { ...data.request!, targets } },
      };
    }
    case 'text':
      return {
        id: 9,
        pluginId: 'text',
        title: 'About this dashboard',
        description: '',
        targets: [],
        text: 'The mesh at a glance: request rates, errors and latency of every service.',
      };
    default:
      return { ...PANEL, targets: panelTargets(datasourceUid), data: panelData(panelFrames(now), datasourceUid, now) };
  }
}

/** What Grafana passes to configure()/onClick() of links at grafana/dashboard/panel/menu for a stand-in panel. */
export function standInContext(panel: StandInPanel): PluginExtensionPanelContext & { description?: string } {
  return {
    pluginId: panel.pluginId,
    id: panel.id,
    title: panel.title,
    description: panel.description,
    timeRange: { from: 'now-1h', to: 'now' },
    timeZone: 'utc',
    dashboard: DASHBOARD,
    targets: panel.targets,
    scopedVars: {},
    data: panel.data,
  };
}
