/*
 * The stand-in panel's data: a Prometheus request-rate query over the last
 * hour, as a data frame with synthetic but steady values, and the
 * PluginExtensionPanelContext Grafana builds for a dashboard panel
 * (createExtensionContext in PanelMenuBehavior).
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

/** What Grafana passes to configure()/onClick() of links at grafana/dashboard/panel/menu. */
export function panelExtensionContext(
  data: PanelData,
  datasourceUid: string
): PluginExtensionPanelContext & { description?: string } {
  return {
    pluginId: PANEL.pluginId,
    id: PANEL.id,
    title: PANEL.title,
    description: PANEL.description,
    timeRange: { from: 'now-1h', to: 'now' },
    timeZone: 'utc',
    dashboard: DASHBOARD,
    targets: panelTargets(datasourceUid),
    scopedVars: {},
    data,
  };
}
