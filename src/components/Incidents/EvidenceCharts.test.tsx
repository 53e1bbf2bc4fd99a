import React from 'react';
import { NEVER, of, throwError } from 'rxjs';
import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { DataFrame, FieldType, PanelData, createDataFrame, dataFrameToJSON } from '@grafana/data';
import { PanelRendererProps } from '@grafana/runtime';
import { capture } from './__fixtures__/evidenceCapture';
import { chartData, chartFieldConfig, chartMetrics, EvidenceCharts, MAX_CITED_CHARTS } from './EvidenceCharts';
import { decodeEvidence, EvidenceMetric, Finding, grafanaUnit } from './evidence';

const rendered: PanelRendererProps[] = [];
const fetch = jest.fn();

jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getBackendSrv: () => ({ fetch }),
  // Grafana supplies the real PanelRenderer; this one records what the charts ask it to draw.
  PanelRenderer: (props: PanelRendererProps) => {
    rendered.push(props);
    return <div data-testid="panel">{props.title}</div>;
  },
}));

beforeAll(() => {
  global.ResizeObserver ??= class {
    observe() {}
    unobserve() {}
    disconnect() {}
  } as unknown as typeof ResizeObserver;
  // jsdom lays nothing out: give the charts' container a width.
  Object.defineProperty(HTMLElement.prototype, 'clientWidth', { configurable: true, get: () => 640 });
});
beforeEach(() => {
  rendered.length = 0;
  fetch.mockReset();
});

const SLOW = { timeout: 10_000 };
const evidence = decodeEvidence(capture)!;
const { pack, findings } = evidence;

/** A series frame as pkg/incidents' SeriesFrames writes it (meta.custom: the window, change point, limit). */
function seriesFrame(id: string, values: number[]): DataFrame {
  const f = createDataFrame({
    name: id,
    fields: [
      {
        name: 'time',
        type: FieldType.time,
        values: values.map((_, i) => Date.parse('2026-12-02T10:10:00Z') + i * 60_000),
      },
      { name: 'value', type: FieldType.number, values },
    ],
  });
  f.meta = {
    executedQueryString: 'max by (namespace, workload, container) (container_memory_working_set_bytes)',
    custom: {
      id,
      start: Date.parse('2026-12-02T10:10:00Z'),
      from: Date.parse('2026-12-02T10:30:00Z'),
      to: Date.parse('2026-12-02T10:50:00Z'),
      change: Date.parse('2026-12-02T10:42:00Z'),
    },
  };
  return f;
}

function answer(ids: string[]) {
  return of({ data: { frames: ids.map((id) => dataFrameToJSON(seriesFrame(id, [1, 2, 3, 5, 8]))) } });
}

describe('chartMetrics', () => {
  it('charts what the top findings cite, in rank order, once each; the rest are the others', () => {
    const { cited, others } = chartMetrics(pack, findings);
    expect(cited.map((m) => m.id)).toEqual(['m1', 'm2']); // l1, t1 are no series; gone-7 is not in the pack
    expect(others.map((m) => m.id)).toEqual(['m3']);
  });

  it('charts at most a few, from the top three findings only', () => {
    const metrics: EvidenceMetric[] = Array.from({ length: 10 }, (_, i) => ({ id: `x${i}`, kind: 'cpu', summary: {} }));
    const many: Finding[] = [
      { cause: 'a', evidence: ['x0', 'x1', 'x0'] },
      { cause: 'b', evidence: ['x2', 'x3', 'x4'] },
      { cause: 'c', evidence: ['x5', 'x6'] },
      { cause: 'd', evidence: ['x9'] },
    ];
    const { cited, others } = chartMetrics({ ...pack, metrics }, many);
    expect(cited.map((m) => m.id)).toEqual(['x0', 'x1', 'x2', 'x3', 'x4', 'x5'].slice(0, MAX_CITED_CHARTS));
    expect(others.map((m) => m.id)).toEqual(['x6', 'x7', 'x8', 'x9']);
  });
});

describe('the chart config', () => {
  it('uses the metric’s unit, and draws the limit as a dashed threshold', () => {
    expect(['req/s', 'ratio', 'ms', 'bytes', 'cores', 'count', 'percent'].map(grafanaUnit)).toEqual([
      'reqps',
      'percentunit',
      'ms',
      'bytes',
      'short',
      'short',
      'percent',
    ]);
    const mem = pack.metrics[0];
    const fc = chartFieldConfig(mem);
    expect(fc.defaults.unit).toBe('bytes');
    expect(fc.defaults.thresholds?.steps.map((s) => s.value)).toEqual([-Infinity, 268435456]);
    expect(fc.defaults.custom.thresholdsStyle.mode).toBe('dashed');
    expect(fc.defaults.custom.axisSoftMax).toBe(268435456); // the limit is in view
    expect(chartFieldConfig(pack.metrics[1]).defaults.custom.thresholdsStyle.mode).toBe('off');
  });

  it('marks where the window starts and the change point, over baseline and window', () => {
    const data: PanelData = chartData(seriesFrame('m1', [1, 2]), pack.metrics[0], pack);
    const marks = data.annotations![0];
    expect(marks.fields[0].values).toEqual([Date.parse('2026-12-02T10:30:00Z'), Date.parse('2026-12-02T10:42:00Z')]);
    expect(marks.fields[1].values[0]).toMatch(/window starts/);
    expect(data.timeRange.from.valueOf()).toBe(Date.parse('2026-12-02T10:10:00Z'));
    expect(data.timeRange.to.valueOf()).toBe(Date.parse('2026-12-02T10:50:00Z'));
  });
});

describe('EvidenceCharts', () => {
  it('draws the cited series with the time series panel, fed the backend’s frames', async () => {
    fetch.mockImplementation(({ params }) => answer(params.ids.split(',')));
    render(<EvidenceCharts incidentId={5} pack={pack} findings={findings} capturedAt={evidence.capturedAt} />);
    expect(await screen.findAllByTestId('panel', {}, SLOW)).toHaveLength(2);
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(fetch.mock.calls[0][0].url).toMatch(/\/resources\/incidents\/5\/series$/);
    expect(fetch.mock.calls[0][0].params).toEqual({ ids: 'm1,m2' });
    const mem = rendered.find((p) => p.data?.series[0].name === 'm1')!;
    expect(mem.pluginId).toBe('timeseries');
    expect(mem.width).toBe(640);
    expect(mem.fieldConfig?.defaults.unit).toBe('bytes');
    expect(mem.data?.series[0].fields[1].values).toEqual([1, 2, 3, 5, 8]);

    // The others on demand.
    fireEvent.click(screen.getByRole('button', { name: /charts of 1 more metrics/i }));
    await waitFor(() => expect(screen.getAllByTestId('panel')).toHaveLength(3), SLOW);
    expect(fetch.mock.calls[1][0].params).toEqual({ ids: 'm1,m2,m3' });
  });

  it('keeps the charts on screen while a new capture’s series load', async () => {
    fetch.mockImplementation(({ params }) => answer(params.ids.split(',')));
    const { rerender } = render(<EvidenceCharts incidentId={5} pack={pack} findings={findings} capturedAt={1} />);
    expect(await screen.findAllByTestId('panel', {}, SLOW)).toHaveLength(2);
    fetch.mockReturnValue(NEVER);
    rerender(<EvidenceCharts incidentId={5} pack={pack} findings={findings} capturedAt={2} />);
    expect(fetch).toHaveBeenCalledTimes(2);
    expect(screen.getAllByTestId('panel')).toHaveLength(2);
    // Another incident's charts are not shown for this one.
    rerender(<EvidenceCharts incidentId={6} pack={pack} findings={findings} capturedAt={2} />);
    expect(screen.queryAllByTestId('panel')).toHaveLength(0);
  });

  it('charts a later capture when the first had nothing to chart', async () => {
    fetch.mockImplementation(({ params }) => answer(params.ids.split(',')));
    const empty = { ...pack, metrics: [] };
    const { rerender } = render(<EvidenceCharts incidentId={5} pack={empty} findings={[]} capturedAt={1} />);
    expect(screen.queryAllByTestId('panel')).toHaveLength(0);
    rerender(<EvidenceCharts incidentId={5} pack={pack} findings={findings} capturedAt={2} />);
    expect(await screen.findAllByTestId('panel', {}, SLOW)).toHaveLength(2);
  });

  it('says why when the series cannot be read', async () => {
    fetch.mockReturnValue(
      throwError(() => ({
        status: 503,
        data: { error: 'the evidence series cannot be read', detail: 'no Prometheus is configured' },
      }))
    );
    render(<EvidenceCharts incidentId={5} pack={pack} findings={findings} />);
    expect(await screen.findByText(/no Prometheus is configured/, {}, SLOW)).toBeInTheDocument();
    expect(rendered).toHaveLength(0);
  });
});
