import React from 'react';
import { Subject } from 'rxjs';
import { MemoryRouter } from 'react-router-dom';
import { act, render, screen, within } from '@testing-library/react';
import {
  DataFrameJSON,
  LiveChannelConnectionState,
  LiveChannelEvent,
  LiveChannelEventType,
  LiveChannelScope,
  PluginContextProvider,
  PluginMeta,
} from '@grafana/data';
import { getGrafanaLiveSrv } from '@grafana/runtime';
import { AlertsNow } from './AlertsNow';
import { dashboardLink, readAlertsPacket } from './alertsFrame';
import {
  FieldActiveAt,
  FieldAlertname,
  FieldDashboardURL,
  FieldNamespace,
  FieldRunbook,
  FieldSeverity,
  FieldState,
  FieldSummary,
  FieldWorkload,
  FrameName,
} from '../../api/wire/alerts';
import { testIds } from '../testIds';

jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getGrafanaLiveSrv: jest.fn(),
}));

// The frame as the Go SDK encodes pkg/alerts' Frame (data.IncludeAll), by
// the field names generated from pkg/alerts, in frame order.
const FIELDS = [
  FieldState,
  FieldAlertname,
  FieldNamespace,
  FieldWorkload,
  FieldSeverity,
  FieldActiveAt,
  FieldSummary,
  FieldDashboardURL,
  FieldRunbook,
];

function packet(rows: unknown[][], notice?: string): DataFrameJSON {
  return {
    schema: {
      name: FrameName,
      meta: notice ? { notices: [{ severity: 'error', text: notice }] } : {},
      fields: FIELDS.map((name) => ({ name, type: name === FieldActiveAt ? 'time' : 'string' })) as any,
    },
    data: { values: FIELDS.map((_, i) => rows.map((r) => r[i])) },
  } as DataFrameJSON;
}

const tenMinutesAgo = Date.now() - 10 * 60 * 1000;
const firing = [
  'firing',
  'CheckoutErrorBudgetBurn',
  'shop',
  'checkout',
  'critical',
  tenMinutesAgo,
  'checkout is burning its error budget',
  '/d/meshwatch-workload?var-namespace=shop&var-workload=checkout',
  '',
];
const pending = [
  'pending',
  'CartLatencyRising',
  'shop',
  'cart',
  'warning',
  tenMinutesAgo,
  'cart p99 latency is rising',
  '',
  '',
];

const message = (msg: DataFrameJSON): LiveChannelEvent<unknown> => ({
  type: LiveChannelEventType.Message,
  message: msg,
});
const status = (
  state: LiveChannelConnectionState,
  extra: { message?: unknown; error?: unknown } = {}
): LiveChannelEvent<unknown> => ({
  type: LiveChannelEventType.Status,
  id: 'plugin/meshwatch-mesh-app/alerts',
  timestamp: Date.now(),
  state,
  ...extra,
});

let events: Subject<LiveChannelEvent<unknown>>;
let getStream: jest.Mock;

function setup(meta?: PluginMeta) {
  const page = (
    <MemoryRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
      <AlertsNow />
    </MemoryRouter>
  );
  // Grafana renders an app's pages inside its plugin context (the plugin meta, jsonData included).
  const view = render(meta ? <PluginContextProvider meta={meta}>{page}</PluginContextProvider> : page);
  const push = (evt: LiveChannelEvent<unknown>) => act(() => events.next(evt));
  return { ...view, push };
}

describe('AlertsNow', () => {
  beforeEach(() => {
    events = new Subject();
    getStream = jest.fn(() => events.asObservable());
    (getGrafanaLiveSrv as jest.Mock).mockReturnValue({ getStream });
  });

  it('subscribes to the plugin alerts channel and unsubscribes on unmount', () => {
    const { unmount } = setup();
    expect(getStream).toHaveBeenCalledWith({
      scope: LiveChannelScope.Plugin,
      stream: 'meshwatch-mesh-app',
      namespace: 'meshwatch-mesh-app',
      path: 'alerts',
    });
    expect(events.observed).toBe(true);
    unmount();
    expect(events.observed).toBe(false);
  });

  it('links to the dashboards with the datasources picked in the app settings', () => {
    const meta = {
      id: 'meshwatch-mesh-app',
      jsonData: { prometheus: { datasourceUid: 'mimir' }, tempo: { datasourceUid: 'traces' }, loki: { url: 'x' } },
    } as unknown as PluginMeta;
    const { push } = setup(meta);
    push(message(packet([firing])));
    expect(screen.getByRole('link', { name: /^Dashboard for CheckoutErrorBudgetBurn/ })).toHaveAttribute(
      'href',
      '/d/meshwatch-workload?var-namespace=shop&var-workload=checkout&var-datasource=mimir&var-tempo=traces'
    );
  });

  it('shows a placeholder until the first frame', () => {
    const { push } = setup();
    expect(screen.getByText('Connecting to the live alerts stream…')).toBeInTheDocument();
    push(status(LiveChannelConnectionState.Pending));
    expect(screen.getByText('Connecting to the live alerts stream…')).toBeInTheDocument();
  });

  it('renders one row per alert with state badges, workload, relative time and the dashboard link', () => {
    const { push } = setup();
    push(message(packet([firing, pending])));

    const table = screen.getByTestId(testIds.incidents.alertsTable);
    const headers = within(table)
      .getAllByRole('columnheader')
      .map((h) => h.textContent);
    expect(headers).toEqual(['State', 'Alert', 'Workload', 'Severity', 'Active since', 'Summary', 'Dashboard']);
    expect(screen.getByRole('table', { name: 'Alerts now' })).toBe(table);

    const rows = screen.getAllByTestId(testIds.incidents.alertRow);
    expect(rows).toHaveLength(2);
    const first = within(rows[0]);
    expect(first.getByText('Firing')).toBeInTheDocument();
    expect(first.getByText('CheckoutErrorBudgetBurn')).toBeInTheDocument();
    expect(first.getByText('shop/checkout')).toBeInTheDocument();
    expect(first.getByText('critical')).toBeInTheDocument();
    expect(first.getByText('checkout is burning its error budget')).toBeInTheDocument();
    const when = first.getByText('10 minutes ago');
    expect(when.tagName).toBe('TIME');
    expect(when).toHaveAttribute('title', expect.stringMatching(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/));
    const link = first.getByRole('link', { name: 'Dashboard for CheckoutErrorBudgetBurn on shop/checkout' });
    expect(link).toHaveAttribute('href', '/d/meshwatch-workload?var-namespace=shop&var-workload=checkout');
    expect(link).toHaveTextContent('Dashboard');

    const second = within(rows[1]);
    expect(second.getByText('Pending')).toBeInTheDocument();
    expect(second.getByText('shop/cart')).toBeInTheDocument();
    expect(second.queryByRole('link')).toBeNull();
    expect(screen.getByTestId(testIds.incidents.alertsUpdated)).toHaveTextContent(/^Updated \d{2}:\d{2}:\d{2}$/);
  });

  it('takes the initial frame from the subscription status', () => {
    const { push } = setup();
    push(status(LiveChannelConnectionState.Connected, { message: packet([pending]) }));
    expect(screen.getAllByTestId(testIds.incidents.alertRow)).toHaveLength(1);
  });

  it('says so when nothing fires, and replaces rows with each frame', () => {
    const { push } = setup();
    push(message(packet([firing])));
    expect(screen.getAllByTestId(testIds.incidents.alertRow)).toHaveLength(1);
    push(message(packet([])));
    expect(screen.queryByTestId(testIds.incidents.alertsTable)).toBeNull();
    expect(screen.getByTestId(testIds.incidents.alertsEmpty)).toHaveTextContent('No alerts are firing or pending.');
  });

  it('shows the error notice and keeps the last rows, then clears it when Prometheus is back', () => {
    const { push } = setup();
    push(message(packet([firing, pending])));
    const reason = 'Prometheus at http://prometheus:9090/api/v1/alerts is unreachable: connection refused';
    push(message(packet([], reason)));

    const notice = screen.getByTestId(testIds.incidents.alertsNotice);
    expect(notice).toHaveTextContent('Cannot read the alerts from Prometheus');
    expect(notice).toHaveTextContent(reason);
    expect(screen.getAllByTestId(testIds.incidents.alertRow)).toHaveLength(2);
    expect(screen.getByText(/Showing the alerts last read at/)).toBeInTheDocument();
    expect(screen.queryByTestId(testIds.incidents.alertsEmpty)).toBeNull();

    push(message(packet([pending])));
    expect(screen.queryByTestId(testIds.incidents.alertsNotice)).toBeNull();
    expect(screen.getAllByTestId(testIds.incidents.alertRow)).toHaveLength(1);
  });

  it('shows the notice alone when the first frame is an error', () => {
    const { push } = setup();
    push(message(packet([], 'the MeshWatch settings for Prometheus are invalid: prometheus.url: …')));
    expect(screen.getByTestId(testIds.incidents.alertsNotice)).toHaveTextContent('prometheus.url');
    expect(screen.queryByText('Connecting to the live alerts stream…')).toBeNull();
    expect(screen.queryByTestId(testIds.incidents.alertsEmpty)).toBeNull();
  });

  it('reports stream errors and a closed stream', () => {
    const { push } = setup();
    push(message(packet([firing])));
    push(status(LiveChannelConnectionState.Connected, { error: { message: 'permission denied' } }));
    expect(screen.getByTestId(testIds.incidents.alertsStreamError)).toHaveTextContent(
      'The live alerts stream failed: permission denied'
    );
    expect(screen.getAllByTestId(testIds.incidents.alertRow)).toHaveLength(1);

    push(status(LiveChannelConnectionState.Connected));
    expect(screen.queryByTestId(testIds.incidents.alertsStreamError)).toBeNull();

    push(status(LiveChannelConnectionState.Shutdown));
    expect(screen.getByTestId(testIds.incidents.alertsStreamError)).toHaveTextContent('The live alerts stream closed');
  });

  it('joins the channel again on its own when it closes (a settings save replaced the backend instance)', () => {
    jest.useFakeTimers();
    try {
      const { push } = setup();
      push(message(packet([firing])));
      const first = events;
      events = new Subject();
      act(() => first.complete());
      expect(screen.getByTestId(testIds.incidents.alertsStreamError)).toHaveTextContent('reconnecting');
      expect(first.observed).toBe(false);
      expect(getStream).toHaveBeenCalledTimes(1);
      act(() => {
        jest.advanceTimersByTime(1000);
      });
      expect(getStream).toHaveBeenCalledTimes(2);
      expect(events.observed).toBe(true);
      push(message(packet([firing, pending])));
      expect(screen.queryByTestId(testIds.incidents.alertsStreamError)).toBeNull();
      expect(screen.getAllByTestId(testIds.incidents.alertRow)).toHaveLength(2);
    } finally {
      jest.useRealTimers();
    }
  });

  it('reports a stream that errors before any frame', () => {
    setup();
    act(() => events.error(new Error('websocket closed')));
    expect(screen.getByTestId(testIds.incidents.alertsStreamError)).toHaveTextContent(
      'The live alerts stream failed: websocket closed'
    );
    expect(screen.queryByText('Connecting to the live alerts stream…')).toBeNull();
  });
});

describe('readAlertsPacket', () => {
  it('ignores packets that are not the alerts frame', () => {
    expect(readAlertsPacket(undefined)).toBeUndefined();
    expect(readAlertsPacket({ data: { values: [] } })).toBeUndefined();
    expect(readAlertsPacket({ schema: { fields: [{ name: 'time', type: 'time' }] } })).toBeUndefined();
  });

  it('treats Go zero times as unknown', () => {
    const snap = readAlertsPacket(packet([[...pending.slice(0, 5), -62135596800000, ...pending.slice(6)]]));
    expect(snap?.rows[0].activeAt).toBeUndefined();
  });
});

describe('dashboardLink', () => {
  it('links Grafana paths in the app and http(s) URLs in a new tab, nothing else', () => {
    expect(dashboardLink('/d/x?var-a=b')).toEqual({ href: '/d/x?var-a=b', external: false });
    expect(dashboardLink('https://grafana.example/d/x')).toEqual({
      href: 'https://grafana.example/d/x',
      external: true,
    });
    expect(dashboardLink('')).toBeUndefined();
    expect(dashboardLink('javascript:alert(1)')).toBeUndefined();
    expect(dashboardLink('//evil.example/d/x')).toBeUndefined();
    expect(dashboardLink('d/relative')).toBeUndefined();
  });
});
