import React from 'react';
import { Subject, of, throwError } from 'rxjs';
import { act, render, screen, waitFor, within } from '@testing-library/react';
import {
  type DataFrameJSON,
  FieldType,
  type LiveChannelEvent,
  LiveChannelEventType,
  LoadingState,
  type PanelData,
  type PluginExtensionOpenModalOptions,
  PluginExtensionPoints,
  createDataFrame,
  dateTime,
} from '@grafana/data';
import { getBackendSrv, getDataSourceSrv, getGrafanaLiveSrv, getTemplateSrv } from '@grafana/runtime';
import pluginJson from '../../plugin.json';
import { ExplainModal } from './ExplainModal';
import { EXPLAIN_DESCRIPTION, EXPLAIN_TITLE, explainLink } from './explainLink';
import { explainIds } from './ids';
import type { PanelContext } from './panel';
import { previewAnswer } from './explainApi';

jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getGrafanaLiveSrv: jest.fn(),
  getBackendSrv: jest.fn(),
  getTemplateSrv: jest.fn(),
  getDataSourceSrv: jest.fn(),
}));

const SLOW = { timeout: 10_000 };
const MIN = 60_000;
const END = Date.UTC(2026, 11, 2, 9, 0, 0);
const START = END - 60 * MIN;
const times = Array.from({ length: 61 }, (_, i) => START + i * MIN);

const DATASOURCES = [
  { uid: 'prom-1', type: 'prometheus', name: 'Prometheus' },
  { uid: 'loki-1', type: 'loki', name: 'Loki' },
  { uid: 'tempo-1', type: 'tempo', name: 'Tempo' },
];

let events: Subject<LiveChannelEvent<unknown>>;
let getStream: jest.Mock;
let posts: Array<{ url: string; data: any }>;
let answers: Record<string, () => unknown>;

const packet = (state: object): LiveChannelEvent<unknown> => ({
  type: LiveChannelEventType.Message,
  message: {
    schema: { name: 'explain', fields: [{ name: 'response', type: FieldType.string }] },
    data: { values: [[JSON.stringify(state)]] },
  } as DataFrameJSON,
});

function frames() {
  return ['api', 'web'].map((svc, s) =>
    createDataFrame({
      refId: 'A',
      fields: [
        { name: 'Time', type: FieldType.time, values: times },
        {
          name: 'Value',
          type: FieldType.number,
          labels: { service: svc },
          config: { displayNameFromDS: svc, unit: 'reqps' },
          // api jumps from 10 to 40 req/s at minute 45; web stays near 5.
          values: times.map((_, i) => (s === 0 ? (i >= 45 ? 40 : 10) : 5) + 0.1 * Math.sin(i)),
        },
      ],
    })
  );
}

function context(over: Partial<PanelContext> = {}): PanelContext {
  const range = { from: dateTime(START), to: dateTime(END), raw: { from: 'now-1h', to: 'now' } };
  const data: PanelData = { state: LoadingState.Done, series: frames(), timeRange: range };
  return {
    pluginId: 'timeseries',
    id: 4,
    title: 'Requests of $svc',
    description: 'Requests per second',
    timeRange: { from: 'now-1h', to: 'now' },
    timeZone: 'utc',
    dashboard: { uid: 'd1', title: 'Mesh', tags: [] },
    targets: [
      {
        refId: 'A',
        datasource: { type: 'prometheus', uid: '${ds}' },
        expr: 'sum by (service) (rate(http_requests_total{service=~"$svc"}[$__rate_interval]))',
        legendFormat: '{{service}} in $svc',
      } as PanelContext['targets'][number],
    ],
    scopedVars: { svc: { text: 'api', value: 'api' } },
    data,
    ...over,
  };
}

beforeEach(() => {
  events = new Subject();
  getStream = jest.fn(() => events.asObservable());
  (getGrafanaLiveSrv as jest.Mock).mockReturnValue({ getStream });
  posts = [];
  answers = {
    '/explain': () => ({ id: 'abc', channel: 'explain/abc', unavailable: '' }),
  };
  (getBackendSrv as jest.Mock).mockReturnValue({
    fetch: (c: { url: string; data: unknown }) => {
      posts.push({ url: c.url, data: c.data });
      const route = c.url.replace(/^.*\/resources/, '');
      try {
        return of({ data: answers[route](), status: 200 });
      } catch (e) {
        return throwError(() => e);
      }
    },
  });
  const vars: Record<string, string> = { ds: 'prom-1' };
  (getTemplateSrv as jest.Mock).mockReturnValue({
    replace: (
      s: string,
      scoped?: Record<string, { text: unknown; value: unknown }>,
      format?: string | ((v: unknown) => string)
    ) =>
      s.replace(/\$\{?(\w+)\}?/g, (m, name) => {
        if (format === 'text' && scoped?.[name]) {
          return String(scoped[name].text);
        }
        const v = scoped?.[name]?.value ?? vars[name];
        return v === undefined ? m : typeof format === 'function' ? format(v) : String(v);
      }),
  });
  // eslint-disable-next-line @typescript-eslint/no-deprecated
  (getDataSourceSrv as jest.Mock).mockReturnValue({
    getInstanceSettings: (ref?: { uid?: string; type?: string } | null) =>
      ref?.uid ? DATASOURCES.find((d) => d.uid === ref.uid) : ref?.type ? undefined : DATASOURCES[0],
    getList: ({ type }: { type: string }) => DATASOURCES.filter((d) => d.type === type),
  });
});

describe('the panel-menu link', () => {
  it('is declared in plugin.json with exactly its title, for the dashboard panel menu', () => {
    const declared = pluginJson.extensions.addedLinks.find((l) => l.title === EXPLAIN_TITLE);
    expect(declared).toBeDefined();
    expect(declared!.description).toBe(EXPLAIN_DESCRIPTION);
    expect(explainLink.targets).toEqual([PluginExtensionPoints.DashboardPanelMenu]);
    expect(declared!.targets).toEqual(explainLink.targets);
  });

  it('is offered on a panel with a Prometheus or Loki query, its datasource variable resolved', () => {
    expect(explainLink.configure!(context())).toEqual({});
    const loki = context({ targets: [{ refId: 'A', datasource: { type: 'loki', uid: 'loki-1' } }] });
    expect(explainLink.configure!(loki)).toEqual({});
  });

  it('is hidden on panels it cannot explain and on panels without a Prometheus or Loki query', () => {
    for (const pluginId of ['text', 'dashlist', 'alertlist', 'annolist', 'news', 'logs', 'traces', 'nodeGraph']) {
      expect(explainLink.configure!(context({ pluginId }))).toBeUndefined();
    }
    const tempo = context({ targets: [{ refId: 'A', datasource: { type: 'tempo', uid: 'tempo-1' } }] });
    expect(explainLink.configure!(tempo)).toBeUndefined();
    const hidden = context({
      targets: [{ refId: 'A', hide: true, datasource: { type: 'prometheus', uid: 'prom-1' } }],
    });
    expect(explainLink.configure!(hidden)).toBeUndefined();
    expect(explainLink.configure!(context({ targets: [] }))).toBeUndefined();
    expect(explainLink.configure!(undefined)).toBeUndefined();
  });

  it('opens the modal through the helpers’ openModal, titled after the panel', () => {
    const openModal = jest.fn<void, [PluginExtensionOpenModalOptions]>();
    explainLink.onClick!(undefined, {
      context: context(),
      openModal,
      extensionPointId: PluginExtensionPoints.DashboardPanelMenu,
    } as never);
    expect(openModal).toHaveBeenCalledTimes(1);
    expect(openModal.mock.calls[0][0].title).toBe('Explain: Requests of api');
  });
});

describe('ExplainModal', () => {
  it('shows the summary at once, sends it (never the points) with the resolved queries, and streams the write-up', async () => {
    render(<ExplainModal context={context()} />);
    const summary = await screen.findByTestId(explainIds.summary, {}, SLOW);
    const rows = within(summary).getAllByTestId(explainIds.summaryRow);
    // The series that changed comes first, with when and by how much.
    expect(rows[0]).toHaveTextContent('s1 api');
    expect(rows[0]).toHaveTextContent('2026-12-02 08:45: 10 req/s → 40 req/s (+300%)');
    expect(rows[1]).toHaveTextContent('s2 web');

    await waitFor(() => expect(posts.some((p) => p.url.endsWith('/explain'))).toBe(true));
    const sent = posts.find((p) => p.url.endsWith('/explain'))!.data;
    expect(sent.queries).toEqual([
      {
        refId: 'A',
        datasource: { type: 'prometheus', uid: 'prom-1' },
        expr: 'sum by (service) (rate(http_requests_total{service=~"api"}[60s]))',
      },
    ]);
    expect(sent.panel).toEqual({ title: 'Requests of api', description: 'Requests per second', type: 'timeseries' });
    expect(sent.timeRange).toEqual({ from: new Date(START).toISOString(), to: new Date(END).toISOString() });
    expect(sent.series.map((s: { id: string }) => s.id)).toEqual(['s1', 's2']);
    expect(JSON.stringify(sent)).not.toContain('"values"');
    expect(posts.some((p) => p.url.endsWith('/explain/data'))).toBe(false);

    await waitFor(() => expect(getStream).toHaveBeenCalledWith(expect.objectContaining({ path: 'explain/abc' })));
    act(() => events.next(packet({ status: 'queued', position: 2, text: '', reason: '', model: '' })));
    expect(screen.getByTestId(explainIds.queued)).toHaveTextContent('2 explanations and analyses ahead');
    act(() =>
      events.next(
        packet({ status: 'streaming', text: '{"shows": "Request rates of two services", "nota', reason: '', model: '' })
      )
    );
    expect(screen.getByTestId(explainIds.streaming)).toHaveTextContent('Request rates of two services');
    act(() =>
      events.next(
        packet({
          status: 'done',
          text: '',
          reason: '',
          model: 'phi3:mini',
          answer: {
            shows: 'Request rates of two services.',
            notable: [
              { text: 'api quadrupled at 08:45.', series: ['s1'], uncited: false },
              { text: 'Traffic is fine.', series: [], uncited: true },
            ],
            causes: [{ text: 'A client retries.', series: ['s1', 's9'], uncited: false }],
            nextQueries: [
              { datasource: 'prometheus', expr: 'sum(rate(http_requests_total[5m]))', why: 'the total', valid: true },
              { datasource: 'prometheus', expr: 'rate(', why: 'broken', valid: false, error: 'unexpected end' },
            ],
          },
        })
      )
    );
    const answer = screen.getByTestId(explainIds.answer);
    const notable = within(answer).getAllByTestId(explainIds.notable);
    expect(within(notable[0]).getByTestId(explainIds.chip)).toHaveTextContent('s1 api');
    expect(within(notable[0]).queryByTestId(explainIds.uncited)).toBeNull();
    expect(within(notable[1]).getByTestId(explainIds.uncited)).toBeInTheDocument();
    // A cited id the request does not hold is shown as such.
    expect(
      within(answer.querySelector('[data-testid="data-testid explain-cause"]') as HTMLElement).getAllByTestId(
        explainIds.chip
      )[1]
    ).toHaveTextContent(/^s9$/);
    const links = within(answer).getAllByTestId(explainIds.explore);
    expect(links).toHaveLength(1);
    const href = decodeURIComponent(links[0].getAttribute('href')!);
    expect(href).toContain('/explore?');
    expect(href).toContain('"datasource":"prom-1"');
    expect(href).toContain('sum(rate(http_requests_total[5m]))');
    expect(within(answer).getByTestId(explainIds.invalidQuery)).toHaveTextContent(
      'does not parse as PromQL (unexpected end)'
    );
  });

  it('resolves a multi-value variable as Prometheus does (a regex alternation) and reads the description from the dashboard', async () => {
    answers['/api/dashboards/uid/d1'] = () => ({
      dashboard: {
        panels: [
          { id: 1, type: 'row', panels: [] },
          { id: 3, type: 'row', panels: [{ id: 4, description: 'Requests of $svc, per second' }] },
        ],
      },
    });
    const ctx = context({ scopedVars: { svc: { text: 'api + web.v2', value: ['api', 'web.v2'] } } });
    delete ctx.description;
    render(<ExplainModal context={ctx} />);
    await waitFor(() => expect(posts.some((p) => p.url.endsWith('/explain'))).toBe(true));
    const sent = posts.find((p) => p.url.endsWith('/explain'))!.data;
    expect(sent.queries[0].expr).toBe('sum by (service) (rate(http_requests_total{service=~"(api|web\\.v2)"}[60s]))');
    expect(sent.panel.description).toBe('Requests of api + web.v2, per second');
  });

  it('sends an empty description when the dashboard cannot be read', async () => {
    answers['/api/dashboards/uid/d1'] = () => {
      throw { status: 404, data: { message: 'Dashboard not found' } };
    };
    const ctx = context();
    delete ctx.description;
    render(<ExplainModal context={ctx} />);
    await waitFor(() => expect(posts.some((p) => p.url.endsWith('/explain'))).toBe(true));
    expect(posts.find((p) => p.url.endsWith('/explain'))!.data.panel.description).toBe('');
  });

  it('without a model, keeps the summary and says why there is no write-up', async () => {
    answers['/explain'] = () => ({ id: 'abc', channel: 'explain/abc', unavailable: 'No Ollama URL is configured.' });
    render(<ExplainModal context={context()} />);
    expect(await screen.findByTestId(explainIds.unavailable, {}, SLOW)).toHaveTextContent(
      'No Ollama URL is configured.'
    );
    expect(screen.getByTestId(explainIds.summary)).toBeInTheDocument();
    expect(getStream).not.toHaveBeenCalled();
  });

  it('without data in the context, re-runs the queries through the backend and summarizes their answer', async () => {
    answers['/explain/data'] = () => ({
      frames: [
        { refId: 'A', name: 'api', labels: { service: 'api' }, times, values: times.map((_, i) => (i < 30 ? 1 : 3)) },
      ],
      errors: [{ refId: 'B', error: 'bad_data: parse error' }],
    });
    render(<ExplainModal context={context({ data: undefined })} />);
    const summary = await screen.findByTestId(explainIds.summary, {}, SLOW);
    const rows = within(summary).getAllByTestId(explainIds.summaryRow);
    expect(rows).toHaveLength(1);
    // Named as the panel names it: the target's legend format over the labels.
    expect(rows[0]).toHaveTextContent('s1 api in api');
    expect(screen.getByTestId(explainIds.queryErrors)).toHaveTextContent('B: bad_data: parse error');
    const asked = posts.find((p) => p.url.endsWith('/explain/data'))!.data;
    expect(asked.queries[0].datasource).toEqual({ type: 'prometheus', uid: 'prom-1' });
    expect(asked.maxDataPoints).toBeGreaterThan(0);
    // The explain/data range is the dashboard's raw range, resolved now.
    const span = Date.parse(asked.timeRange.to) - Date.parse(asked.timeRange.from);
    expect(Math.abs(span - 3600_000)).toBeLessThan(1000);
    expect(posts.some((p) => p.url.endsWith('/explain'))).toBe(true);
  });

  it('with no data at all, says so and asks no model', async () => {
    answers['/explain/data'] = () => ({ frames: [], errors: [] });
    render(<ExplainModal context={context({ data: undefined })} />);
    expect(await screen.findByTestId(explainIds.noData, {}, SLOW)).toHaveTextContent('No data to explain');
    expect(posts.some((p) => p.url.endsWith('/explain'))).toBe(false);
  });

  it('shows the most changed series first and the rest of the budget on demand', async () => {
    const many = Array.from({ length: 30 }, (_, p) =>
      createDataFrame({
        refId: 'A',
        fields: [
          { name: 'Time', type: FieldType.time, values: times },
          {
            name: 'Value',
            type: FieldType.number,
            labels: { pod: `pod-${p}` },
            values: times.map((_, i) => (p === 12 && i > 30 ? 90 : 30) + Math.sin(i + p)),
          },
        ],
      })
    );
    const ctx = context();
    render(<ExplainModal context={{ ...ctx, data: { ...ctx.data!, series: many } }} />);
    const summary = await screen.findByTestId(explainIds.summary, {}, SLOW);
    const rows = within(summary).getAllByTestId(explainIds.summaryRow);
    expect(rows).toHaveLength(8);
    expect(rows[0]).toHaveTextContent('{pod="pod-12"}');
    expect(screen.getByTestId(explainIds.omitted)).toHaveTextContent('10 more series');
    act(() => screen.getByRole('button', { name: 'Show all 20 summarized series' }).click());
    expect(within(summary).getAllByTestId(explainIds.summaryRow)).toHaveLength(20);
    await waitFor(() => expect(posts.some((p) => p.url.endsWith('/explain'))).toBe(true));
    const sent = posts.find((p) => p.url.endsWith('/explain'))!.data;
    expect(sent.series).toHaveLength(20);
    expect(sent.omittedSeries).toBe(10);
  });

  it('asks again after a failed explanation, and follows the new stream', async () => {
    render(<ExplainModal context={context()} />);
    await waitFor(() => expect(getStream).toHaveBeenCalledTimes(1));
    act(() =>
      events.next(packet({ status: 'failed', text: '', reason: 'the model answered no JSON', model: 'phi3:mini' }))
    );
    expect(screen.getByTestId(explainIds.failed)).toHaveTextContent(
      'the model answered no JSON. The summary above stands.'
    );
    act(() => screen.getByRole('button', { name: 'Ask again' }).click());
    await waitFor(() => expect(posts.filter((p) => p.url.endsWith('/explain'))).toHaveLength(2));
    await waitFor(() => expect(getStream).toHaveBeenCalledTimes(2));
    act(() => events.next(packet({ status: 'streaming', text: '{"shows": "Again."', reason: '', model: '' })));
    expect(screen.getByTestId(explainIds.streaming)).toHaveTextContent('Again.');
    expect(screen.queryByTestId(explainIds.failed)).toBeNull();
  });

  it('a panel whose loaded series hold no values at all has no data, and nothing is asked', async () => {
    const ctx = context();
    const empty = frames().map((f) => ({
      ...f,
      fields: f.fields.map((x) => (x.type === FieldType.number ? { ...x, values: x.values.map(() => null) } : x)),
    }));
    render(<ExplainModal context={{ ...ctx, data: { ...ctx.data!, series: empty } }} />);
    expect(await screen.findByTestId(explainIds.noData, {}, SLOW)).toHaveTextContent('No data to explain');
    expect(posts.some((p) => p.url.includes('/explain'))).toBe(false);
  });

  it('says when the backend refuses the request', async () => {
    answers['/explain'] = () => {
      throw { status: 413, data: { error: 'request too large' } };
    };
    render(<ExplainModal context={context()} />);
    expect(await screen.findByTestId(explainIds.unavailable, {}, SLOW)).toHaveTextContent('request too large');
    expect(screen.getByTestId(explainIds.summary)).toBeInTheDocument();
  });
});

describe('previewAnswer', () => {
  it('shows only what the model has finished writing', () => {
    expect(previewAnswer('{"shows": "Half a sen')).toEqual({ notable: [], causes: [] });
    expect(
      previewAnswer('{"shows": "A \\"quoted\\" line.", "notable": [{"text": "one", "series": ["s1"]}, {"text": "tw')
    ).toEqual({
      shows: 'A "quoted" line.',
      notable: ['one'],
      causes: [],
    });
  });
});
