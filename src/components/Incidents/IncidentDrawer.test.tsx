import React from 'react';
import { Observable } from 'rxjs';
import { MemoryRouter } from 'react-router-dom';
import { render, screen, within } from '@testing-library/react';
import { PluginContextProvider, PluginMeta } from '@grafana/data';
import { api } from '../../api/client';
import { IncidentDetail } from '../../api/types';
import { testIds } from '../testIds';
import { IncidentDrawer } from './IncidentDrawer';
import { capture } from './__fixtures__/evidenceCapture';
import { IncidentRow } from './incidentsFrame';

// The write-up beneath the findings joins its Live channel (WriteUp.test.tsx tests it).
jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getGrafanaLiveSrv: () => ({ getStream: () => new Observable() }),
}));

beforeAll(() => {
  global.ResizeObserver ??= class {
    observe() {}
    unobserve() {}
    disconnect() {}
  } as unknown as typeof ResizeObserver;
});
afterEach(() => jest.restoreAllMocks());

// @grafana/ui renders slowly on a busy 2-core machine.
const SLOW = { timeout: 10_000 };

const detail = (evidence?: unknown): IncidentDetail => ({
  incident: {
    id: 5,
    key: { namespace: 'shop', workload: 'cart' },
    state: 'open',
    severity: 'critical',
    title: 'SidecarMemoryHigh',
    startedAt: '2026-12-02T10:35:00Z',
    resolvedAt: '0001-01-01T00:00:00Z',
    updatedAt: '2026-12-02T10:50:00Z',
    flapping: false,
    alerts: 0,
    firing: 0,
    version: 1,
  } as IncidentDetail['incident'],
  alerts: [],
  evidence,
});

const meta = {
  id: 'meshwatch-mesh-app',
  jsonData: {
    prometheus: { datasourceUid: 'prom-uid' },
    loki: { datasourceUid: 'loki-uid' },
    tempo: { datasourceUid: 'tempo-uid' },
  },
} as unknown as PluginMeta;

function setup(evidence?: unknown) {
  jest.spyOn(api, 'incident').mockResolvedValue(detail(evidence));
  return render(
    <MemoryRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
      <PluginContextProvider meta={meta}>
        <IncidentDrawer id={5} onClose={() => {}} />
      </PluginContextProvider>
    </MemoryRouter>
  );
}

describe('IncidentDrawer evidence', () => {
  it('shows the ranked findings with the evidence each cites resolved from the pack', async () => {
    setup(capture);
    const findings = await screen.findAllByTestId('data-testid incidents-finding', {}, SLOW);
    expect(findings).toHaveLength(2);
    const top = findings[0];
    expect(within(top).getByText('sidecar-memory-leak')).toBeInTheDocument();
    expect(within(top).getByText('shop/cart')).toBeInTheDocument();
    expect(within(top).getByText('score 0.92')).toBeInTheDocument();
    expect(within(top).getByText('The istio-proxy of cart grows towards its limit.')).toBeInTheDocument();
    const cited = within(top).getByRole('list', { name: 'Evidence of finding 1' });
    expect(cited).toHaveTextContent(/sidecar memory of cart 50 MiB → 240 MiB, change at \d\d:\d\d, limit 256 MiB/);
    expect(cited).toHaveTextContent('37 error lines of cart: upstream connect error <n>');
    expect(cited).toHaveTextContent('upstream connect error 503 reset reason: overflow');
    expect(cited).toHaveTextContent('error trace checkout POST /pay 2.3 s (abc123)');
    const unknown = within(top).getByTestId('data-testid incidents-unknown-evidence');
    expect(unknown).toHaveTextContent('unknown evidence');
    expect(unknown).toHaveTextContent('gone-7');
    expect(within(findings[1]).getByText('upstream-dependency')).toBeInTheDocument();
    expect(within(findings[1]).getByRole('list', { name: 'Evidence of finding 2' })).toHaveTextContent(
      /p99 latency of checkout → cart 180 ms → 1.4 s/
    );
    // Findings come before the alerts.
    const alerts = screen.getByRole('region', { name: 'Alerts of the incident' });
    expect(top.compareDocumentPosition(alerts) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
  });

  it('says which sources the capture lacked, and shows the metrics, log patterns and traces', async () => {
    setup(capture);
    expect(await screen.findByText('partial: loki, tempo', {}, SLOW)).toBeInTheDocument();
    const table = screen.getByRole('table', { name: 'Evidence metrics' });
    expect(within(table).getAllByRole('row')).toHaveLength(4);
    expect(within(table).getByText('canary status of cart')).toBeInTheDocument();
    expect(screen.getByLabelText('Log pattern upstream connect error <n>')).toHaveTextContent(/37×.*first .*last /);
    expect(screen.getByText('Traces (1)')).toBeInTheDocument();
  });

  it('links to Explore and the workload dashboard with the settings’ datasources', async () => {
    setup(capture);
    const dashboard = await screen.findByRole('link', { name: /Workload dashboard/ }, SLOW);
    expect(dashboard).toHaveAttribute(
      'href',
      '/d/meshwatch-workload?var-namespace=shop&var-workload=cart&var-datasource=prom-uid&var-loki=loki-uid&var-tempo=tempo-uid'
    );
    const logs = screen.getByRole('link', { name: /Error lines in Explore \(Loki\)/ });
    const lokiPane = JSON.parse(new URL(logs.getAttribute('href')!, 'http://g').searchParams.get('panes')!).a;
    expect(lokiPane.datasource).toBe('loki-uid');
    expect(lokiPane.queries[0].expr).toContain('{namespace="shop", pod=~"cart-');
    const explore = screen.getAllByRole('link', { name: /^Explore$/ }).map((a) => a.getAttribute('href')!);
    const exprs = explore.map((h) => JSON.parse(new URL(h, 'http://g').searchParams.get('panes')!).a.queries[0].expr);
    expect(exprs).toContain(
      'max(container_memory_working_set_bytes{namespace="shop", pod=~"cart-[a-z0-9]+(-[a-z0-9]+)?", container="istio-proxy"})'
    );
    const tempo = screen.getByRole('link', { name: /Explore \(Tempo\)/ });
    expect(
      JSON.parse(new URL(tempo.getAttribute('href')!, 'http://g').searchParams.get('panes')!).a.queries[0]
    ).toMatchObject({ datasource: { uid: 'tempo-uid' }, query: 'abc123' });
  });

  it('says no finding stands out, with the window, when the capture ranks none', async () => {
    setup({ ...capture, findings: [], partial: [], pack: { ...capture.pack, partial: [] } });
    const none = await screen.findByTestId('data-testid incidents-no-finding', {}, SLOW);
    expect(none).toHaveTextContent(/^No finding stands out in .+ – .+ \(20m\)/);
    expect(screen.queryByText(/^partial:/)).toBeNull();
  });

  it('says when no evidence is captured yet', async () => {
    setup(undefined);
    expect(await screen.findByTestId('data-testid incidents-no-evidence', {}, SLOW)).toBeInTheDocument();
  });

  it('fetches again when the live row’s top finding changes (a new capture), though updatedAt does not', async () => {
    const get = jest.spyOn(api, 'incident').mockResolvedValue(detail(undefined));
    const row = { id: 5, updatedAt: 1000, topFinding: '' } as unknown as IncidentRow;
    const ui = (r: IncidentRow) => (
      <MemoryRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
        <PluginContextProvider meta={meta}>
          <IncidentDrawer id={5} row={r} onClose={() => {}} />
        </PluginContextProvider>
      </MemoryRouter>
    );
    const view = render(ui(row));
    await screen.findByTestId('data-testid incidents-no-evidence', {}, SLOW);
    get.mockResolvedValue(detail(capture));
    view.rerender(ui({ ...row, topFinding: 'shop/cart: sidecar-memory-leak — grows' }));
    expect(await screen.findAllByTestId('data-testid incidents-finding', {}, SLOW)).toHaveLength(2);
    expect(get).toHaveBeenCalledTimes(2);
  });

  it('renders a malformed capture without crashing', async () => {
    setup({ pack: 'garbage', findings: [{ evidence: 'm1' }, 4] });
    const findings = await screen.findAllByTestId('data-testid incidents-finding', {}, SLOW);
    expect(findings).toHaveLength(1);
    expect(within(findings[0]).getByText('unknown')).toBeInTheDocument();
    expect(screen.getByText(/No metric/i)).toBeInTheDocument();
  });

  it('shows the LLM write-up beneath the findings of an incident that stands alone or heads a fault, not of a merged one', async () => {
    const view = setup(capture);
    const findings = await screen.findAllByTestId('data-testid incidents-finding', {}, SLOW);
    const writeUp = screen.getByTestId(testIds.incidents.writeUp);
    // Beneath the findings, above the evidence.
    expect(
      findings[findings.length - 1].compareDocumentPosition(writeUp) & Node.DOCUMENT_POSITION_FOLLOWING
    ).toBeTruthy();
    view.unmount();
    const merged = detail(capture);
    merged.incident.mergedInto = 2;
    jest.spyOn(api, 'incident').mockResolvedValue(merged);
    render(
      <MemoryRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
        <PluginContextProvider meta={meta}>
          <IncidentDrawer id={5} onClose={() => {}} />
        </PluginContextProvider>
      </MemoryRouter>
    );
    await screen.findAllByTestId('data-testid incidents-finding', {}, SLOW);
    expect(screen.queryByTestId(testIds.incidents.writeUp)).toBeNull();
  });
});
