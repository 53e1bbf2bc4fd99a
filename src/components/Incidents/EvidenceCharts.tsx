import React, { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { lastValueFrom } from 'rxjs';
import { css } from '@emotion/css';
import {
  DataFrame,
  DataFrameJSON,
  FieldConfigSource,
  FieldType,
  GrafanaTheme2,
  LoadingState,
  PanelData,
  ThresholdsMode,
  createDataFrame,
  dataFrameFromJSON,
  dateTime,
} from '@grafana/data';
import { PanelRenderer, getBackendSrv } from '@grafana/runtime';
import { Alert, Button, LoadingPlaceholder, useStyles2 } from '@grafana/ui';
import { errorMessage } from '../../api/client';
import { RESOURCES_URL } from '../../constants';
import { testIds } from '../testIds';
import { EvidenceMetric, Finding, Pack, grafanaUnit, metricName } from './evidence';

/** How many findings' cited metrics are charted at first, and at most how many charts that makes. */
export const CHARTED_FINDINGS = 3;
export const MAX_CITED_CHARTS = 6;
/** How many of the pack's other metrics "more charts" adds. */
export const MAX_OTHER_CHARTS = 12;
const CHART_HEIGHT = 200;

/** The metrics to chart: those the top findings cite (in rank order), then the pack's other metrics (ranked). */
export function chartMetrics(pack: Pack, findings: Finding[]): { cited: EvidenceMetric[]; others: EvidenceMetric[] } {
  const byId = new Map(pack.metrics.map((m) => [m.id, m]));
  const cited: EvidenceMetric[] = [];
  for (const f of findings.slice(0, CHARTED_FINDINGS)) {
    for (const id of f.evidence) {
      const m = byId.get(id);
      if (m && !cited.includes(m) && cited.length < MAX_CITED_CHARTS) {
        cited.push(m);
      }
    }
  }
  const others = pack.metrics.filter((m) => !cited.includes(m)).slice(0, MAX_OTHER_CHARTS);
  return { cited, others };
}

/** A series frame's meta.custom, as pkg/incidents' SeriesMeta writes it. */
export interface SeriesMeta {
  id?: string;
  start?: number;
  from?: number;
  to?: number;
  change?: number;
  limit?: number;
}

/** GET incidents/{id}/series: the capture's series as data frames, by evidence id. */
export async function fetchSeries(incidentId: number, ids: string[]): Promise<Map<string, DataFrame>> {
  const res = await lastValueFrom(
    getBackendSrv().fetch<{ frames?: DataFrameJSON[] }>({
      url: `${RESOURCES_URL}/incidents/${incidentId}/series`,
      params: { ids: ids.join(',') },
      showErrorAlert: false,
      showSuccessAlert: false,
    })
  );
  const out = new Map<string, DataFrame>();
  for (const json of res.data.frames ?? []) {
    const frame = dataFrameFromJSON(json);
    out.set(frame.name ?? '', frame);
  }
  return out;
}

/**
 * The panel data of one chart: the series frame, and as annotations the window's start
 * (what comes before it is the baseline) and the change point the summary found.
 */
export function chartData(frame: DataFrame, m: EvidenceMetric, pack: Pack): PanelData {
  const meta = (frame.meta?.custom ?? {}) as SeriesMeta;
  const from = meta.from ?? pack.window.from;
  const to = meta.to ?? pack.window.to ?? Date.now();
  const start = meta.start ?? (from !== undefined ? from - (to - from) : to - 3600_000);
  const marks: Array<{ time: number; text: string; color: string }> = [];
  if (from !== undefined) {
    marks.push({ time: from, text: 'Evidence window starts (before: baseline)', color: '#8e8e8e' });
  }
  const change = meta.change ?? m.summary.changeAt;
  if (change !== undefined) {
    marks.push({ time: change, text: 'Change point', color: '#ff9830' });
  }
  const annotations = createDataFrame({
    name: 'evidence marks',
    fields: [
      { name: 'time', type: FieldType.time, values: marks.map((x) => x.time) },
      { name: 'text', type: FieldType.string, values: marks.map((x) => x.text) },
      { name: 'color', type: FieldType.string, values: marks.map((x) => x.color) },
    ],
  });
  return {
    state: LoadingState.Done,
    series: [frame],
    annotations: [annotations],
    timeRange: { from: dateTime(start), to: dateTime(to), raw: { from: dateTime(start), to: dateTime(to) } },
  };
}

/**
 * The chart's field config: the metric's unit, rates and ratios from 0 (an mTLS share up to 1),
 * the limit as a dashed threshold that the axis reaches up to.
 */
export function chartFieldConfig(m: EvidenceMetric): FieldConfigSource {
  const limit = m.summary.limit;
  return {
    defaults: {
      unit: grafanaUnit(m.unit),
      min: m.unit === 'ratio' || m.unit === 'req/s' ? 0 : undefined,
      max: m.unit === 'ratio' && m.kind === 'mtls-share' ? 1 : undefined,
      color: { mode: 'palette-classic' },
      thresholds: {
        mode: ThresholdsMode.Absolute,
        steps:
          limit !== undefined
            ? [
                { value: -Infinity, color: 'green' },
                { value: limit, color: 'red' },
              ]
            : [{ value: -Infinity, color: 'green' }],
      },
      custom: {
        lineWidth: 1,
        fillOpacity: 10,
        showPoints: 'never',
        spanNulls: true,
        thresholdsStyle: { mode: limit !== undefined ? 'dashed' : 'off' },
        axisSoftMax: limit,
      },
    },
    overrides: [],
  };
}

/** The width of an element, followed as it resizes. */
/**
 * The width of the element the returned callback ref is set on, kept current. A callback
 * ref, not an effect on mount: the element may mount only on a later render (the first
 * capture had nothing to chart), and it must be measured then.
 */
function useWidth(): [(el: HTMLDivElement | null) => void, number] {
  const [width, setWidth] = useState(0);
  const observer = useRef<ResizeObserver>();
  const ref = useCallback((el: HTMLDivElement | null) => {
    observer.current?.disconnect();
    observer.current = undefined;
    if (!el) {
      return;
    }
    setWidth(el.clientWidth);
    if (typeof ResizeObserver === 'undefined') {
      return;
    }
    observer.current = new ResizeObserver(() => setWidth(el.clientWidth));
    observer.current.observe(el);
  }, []);
  useEffect(() => () => observer.current?.disconnect(), []);
  return [ref, width];
}

interface Loaded {
  key: string;
  incidentId: number;
  frames?: Map<string, DataFrame>;
  error?: string;
}

/**
 * Charts of the evidence series the top findings cite, drawn by Grafana's time series
 * panel (PanelRenderer) from the frames the backend reads with the capture's own queries;
 * "more charts" adds the pack's other top metrics.
 */
export function EvidenceCharts({
  incidentId,
  pack,
  findings,
  capturedAt,
}: {
  incidentId: number;
  pack: Pack;
  findings: Finding[];
  capturedAt?: number;
}) {
  const s = useStyles2(getStyles);
  const [more, setMore] = useState(false);
  const { cited, others } = useMemo(() => chartMetrics(pack, findings), [pack, findings]);
  const shown = useMemo(() => {
    const base = cited.length ? cited : others.slice(0, MAX_CITED_CHARTS);
    return more ? [...base, ...others.filter((m) => !base.includes(m))] : base;
  }, [cited, others, more]);
  const hidden = cited.length ? others.length : Math.max(0, others.length - MAX_CITED_CHARTS);
  const ids = shown.map((m) => m.id);
  const key = `${incidentId}@${capturedAt ?? ''}:${ids.join(',')}`;
  const [loaded, setLoaded] = useState<Loaded>();
  useEffect(() => {
    if (!ids.length) {
      return;
    }
    let cancelled = false;
    fetchSeries(incidentId, ids).then(
      (frames) => !cancelled && setLoaded({ key, incidentId, frames }),
      (err) => !cancelled && setLoaded({ key, incidentId, error: errorMessage(err) })
    );
    return () => {
      cancelled = true;
    };
    // ids is derived from key.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, incidentId]);
  const [ref, width] = useWidth();
  if (!shown.length) {
    return null;
  }
  const current = loaded?.key === key ? loaded : undefined;
  // While a new capture's series load, the incident's last ones stay on screen.
  const frames = current?.frames ?? (loaded?.incidentId === incidentId ? loaded.frames : undefined);
  return (
    <section aria-label="Series charts" data-testid={testIds.incidents.evidenceCharts}>
      <h5 className={s.subheading}>
        Charts {cited.length ? 'of the evidence the top findings cite' : 'of the top metrics'}
      </h5>
      <div ref={ref}>
        {current?.error ? (
          <Alert severity="warning" title="The evidence series could not be read">
            {current.error}
          </Alert>
        ) : !frames ? (
          <LoadingPlaceholder text="Loading the evidence series…" />
        ) : width > 0 ? (
          shown.map((m) => {
            const frame = frames.get(m.id);
            return (
              <div
                key={m.id}
                className={s.chart}
                data-testid={testIds.incidents.evidenceChart}
                aria-label={`Chart of ${metricName(m)}`}
              >
                {frame ? (
                  <PanelRenderer
                    title={metricName(m)}
                    pluginId="timeseries"
                    width={width}
                    height={CHART_HEIGHT}
                    data={chartData(frame, m, pack)}
                    fieldConfig={chartFieldConfig(m)}
                    options={{
                      legend: { showLegend: true, displayMode: 'list', placement: 'bottom', calcs: [] },
                      tooltip: { mode: 'single', sort: 'none' },
                    }}
                  />
                ) : current ? (
                  <p className={s.muted}>{metricName(m)}: no series came back.</p>
                ) : (
                  <LoadingPlaceholder text={`Loading ${metricName(m)}…`} />
                )}
              </div>
            );
          })
        ) : null}
      </div>
      {hidden > 0 ? (
        <Button
          variant="secondary"
          size="sm"
          fill="outline"
          icon={more ? 'angle-up' : 'angle-down'}
          onClick={() => setMore(!more)}
          data-testid={testIds.incidents.evidenceChartsMore}
        >
          {more ? 'Fewer charts' : `Charts of ${hidden} more metrics`}
        </Button>
      ) : null}
    </section>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  subheading: css({ margin: theme.spacing(2, 0, 0.5) }),
  muted: css({ color: theme.colors.text.secondary }),
  chart: css({ marginBottom: theme.spacing(1.5) }),
});
