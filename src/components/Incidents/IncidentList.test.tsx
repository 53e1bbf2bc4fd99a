import React from 'react';
import { Observable, Subject, of, throwError } from 'rxjs';
import { MemoryRouter } from 'react-router-dom';
import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import {
  DataFrameJSON,
  LiveChannelConnectionState,
  LiveChannelEvent,
  LiveChannelEventType,
  LiveChannelScope,
} from '@grafana/data';
import { config, getBackendSrv, getGrafanaLiveSrv, locationService } from '@grafana/runtime';
import { IncidentList } from './IncidentList';
import { IncidentDetail } from '../../api/types';
import { testIds } from '../testIds';
import { incidentsPacket, Row } from './__fixtures__/incidentsPacket';

jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getGrafanaLiveSrv: jest.fn(),
  getBackendSrv: jest.fn(),
}));

// What jsdom lacks and @grafana/ui's MultiCombobox (text width) and Drawer use.
beforeAll(() => {
  HTMLCanvasElement.prototype.getContext = (() => ({
    measureText: (text: string) => ({ width: text.length * 7 }),
    font: '',
  })) as unknown as typeof HTMLCanvasElement.prototype.getContext;
  global.ResizeObserver ??= class {
    observe() {}
    unobserve() {}
    disconnect() {}
  } as unknown as typeof ResizeObserver;
});

const MIN = 60 * 1000;
// @grafana/ui renders slowly on a busy 2-core machine.
const SLOW = { timeout: 10_000 };
const now = Date.now();

const checkout: Row = {
  id: 11,
  state: 'open',
  severity: 'critical',
  namespace: 'shop',
  workload: 'checkout',
  title: 'HighErrorRate',
  summary: 'checkout answers 5xx to 12% of requests',
  startedAt: now - 10 * MIN,
  updatedAt: now - 2 * MIN,
  alerts: 2,
  firing: 2,
};
const cart: Row = {
  id: 12,
  state: 'open',
  severity: 'warning',
  namespace: 'shop',
  workload: 'cart',
  title: 'LatencyHigh',
  startedAt: now - 30 * MIN,
  updatedAt: now - 20 * MIN,
  alerts: 3,
  firing: 1,
  flapping: true,
  reopens: 3,
};
const node: Row = {
  id: 9,
  state: 'resolved',
  severity: 'info',
  namespace: 'kube-system',
  workload: '',
  title: 'NodeClockSkew',
  startedAt: now - 3 * 60 * MIN,
  resolvedAt: now - 60 * MIN - 15 * MIN,
  updatedAt: now - 60 * MIN,
  alerts: 1,
  firing: 0,
};

const message = (msg: DataFrameJSON): LiveChannelEvent<unknown> => ({
  type: LiveChannelEventType.Message,
  message: msg,
});
const status = (state: LiveChannelConnectionState, extra: { message?: unknown; error?: unknown } = {}) =>
  ({
    type: LiveChannelEventType.Status,
    id: 'plugin/meshwatch-mesh-app/incidents',
    timestamp: Date.now(),
    state,
    ...extra,
  }) as LiveChannelEvent<unknown>;

let events: Subject<LiveChannelEvent<unknown>>;
let getStream: jest.Mock;
let fetches: string[];
let detail: (url: string) => Observable<unknown>;

function setRole(orgRole: 'Viewer' | 'Editor' | 'Admin') {
  config.bootData = { ...config.bootData, user: { ...config.bootData?.user, orgRole } } as typeof config.bootData;
}

function setup(url = '/a/meshwatch-mesh-app/incidents') {
  locationService.push(url);
  // TextLink needs a router; the filters live in locationService's URL, as in Grafana.
  const view = render(
    <MemoryRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
      <IncidentList />
    </MemoryRouter>
  );
  const push = (evt: LiveChannelEvent<unknown>) => act(() => events.next(evt));
  return { ...view, push };
}

const rowIds = () =>
  screen.queryAllByTestId(testIds.incidents.row).map((r) => Number(r.getAttribute('data-incident-id')));

// Only Date is faked, frozen at `now`: the ages the list shows ("10 minutes
// ago") stay what the fixtures say however long a busy machine takes.
const REAL_TIMERS = [
  'hrtime',
  'nextTick',
  'performance',
  'queueMicrotask',
  'requestAnimationFrame',
  'cancelAnimationFrame',
  'requestIdleCallback',
  'cancelIdleCallback',
  'setImmediate',
  'clearImmediate',
  'setInterval',
  'clearInterval',
  'setTimeout',
  'clearTimeout',
] as const;

describe('IncidentList', () => {
  afterEach(() => {
    jest.useRealTimers();
  });
  beforeEach(() => {
    jest.useFakeTimers({ now, doNotFake: [...REAL_TIMERS] });
    setRole('Viewer');
    config.appUrl = 'https://grafana.example/';
    events = new Subject();
    getStream = jest.fn(() => events.asObservable());
    (getGrafanaLiveSrv as jest.Mock).mockReturnValue({ getStream });
    fetches = [];
    detail = () => throwError(() => ({ status: 404, data: { error: 'no such incident' } }));
    (getBackendSrv as jest.Mock).mockReturnValue({
      fetch: (c: { url: string }) => {
        // The "Awaiting sign-off" counts are read on their own schedule (usePendingSignOff).
        if (!c.url.includes('/signoff/')) {
          fetches.push(c.url);
        }
        return detail(c.url);
      },
    });
  });

  it('subscribes to the plugin incidents channel, shows a placeholder until the first frame, unsubscribes on unmount', () => {
    const { unmount, push } = setup();
    expect(getStream).toHaveBeenCalledWith(
      expect.objectContaining({ scope: LiveChannelScope.Plugin, stream: 'meshwatch-mesh-app', path: 'incidents' })
    );
    expect(screen.getByText('Connecting to the live incidents stream…')).toBeInTheDocument();
    push(status(LiveChannelConnectionState.Pending));
    expect(screen.getByText('Connecting to the live incidents stream…')).toBeInTheDocument();
    unmount();
    expect(events.observed).toBe(false);
  });

  it('says how alerts arrive when there is no incident yet; the service-account step is for admins', () => {
    const { push, unmount } = setup();
    push(message(incidentsPacket([])));
    const empty = screen.getByTestId(testIds.incidents.empty);
    expect(empty).toHaveTextContent('No incidents yet');
    expect(empty).toHaveTextContent(
      'https://grafana.example/api/plugins/meshwatch-mesh-app/resources/intake/alertmanager'
    );
    expect(empty).toHaveTextContent('https://grafana.example/api/plugins/meshwatch-mesh-app/resources/intake/grafana');
    expect(within(empty).getByRole('link', { name: /Alert intake/ })).toHaveAttribute(
      'href',
      'https://github.com/meshwatch/meshwatch#alert-intake'
    );
    expect(empty).toHaveTextContent('A Grafana admin creates the service account');
    expect(within(empty).queryByRole('link', { name: /Service accounts/ })).toBeNull();
    expect(screen.queryByTestId(testIds.incidents.filters)).toBeNull();
    unmount();

    setRole('Admin');
    const admin = setup();
    admin.push(message(incidentsPacket([])));
    expect(screen.getByRole('link', { name: /Service accounts/ })).toHaveAttribute('href', '/org/serviceaccounts');
    expect(screen.queryByText(/A Grafana admin creates/)).toBeNull();
  });

  it('lists incidents open first, then the most recently updated, with every column', () => {
    const { push } = setup();
    push(message(incidentsPacket([node, cart, checkout])));
    const table = screen.getByTestId(testIds.incidents.table);
    expect(
      within(table)
        .getAllByRole('columnheader')
        .map((h) => h.textContent)
    ).toEqual(['Severity', 'State', 'Namespace/workload', 'Incident', 'Age', 'Alerts', 'Top finding']);
    expect(screen.getByRole('table', { name: 'Incident list' })).toBe(table);
    expect(rowIds()).toEqual([11, 12, 9]);

    const [first, second, third] = screen.getAllByTestId(testIds.incidents.row).map((r) => within(r));
    expect(first.getByText('critical')).toBeInTheDocument();
    expect(first.getByText('Open')).toBeInTheDocument();
    expect(first.getByText('shop/checkout')).toBeInTheDocument();
    expect(first.getByRole('button', { name: /HighErrorRate/ })).toBeInTheDocument();
    expect(first.getByText('checkout answers 5xx to 12% of requests')).toBeInTheDocument();
    expect(first.getByText('10 minutes ago').tagName).toBe('TIME');
    expect(first.getByLabelText('2 of 2 alerts firing')).toHaveTextContent('2/2');
    expect(first.getByText('—')).toBeInTheDocument();
    expect(first.queryByText('Flapping')).toBeNull();

    expect(second.getByText('Flapping')).toBeInTheDocument();
    expect(second.getByText('reopened 3 times')).toBeInTheDocument();
    expect(second.getByLabelText('1 of 3 alerts firing')).toBeInTheDocument();

    // No workload label: grouped by alertname in its namespace; resolved shows how long it lasted.
    expect(third.getByText('Resolved')).toBeInTheDocument();
    expect(third.getByText('kube-system · alertname=NodeClockSkew')).toBeInTheDocument();
    expect(third.getByText('lasted 1h 45m')).toBeInTheDocument();
    expect(third.getByText('resolved an hour ago')).toBeInTheDocument();
    expect(screen.getByTestId(testIds.incidents.updated)).toHaveTextContent(/^Updated \d{2}:\d{2}:\d{2}$/);
  });

  it('shows the incidents of one fault as one row: n alerts on k workloads, the root named', () => {
    const { push } = setup();
    // stock is the root: the incidents of its callers (web, api) are merged into it.
    const stock: Row = { ...checkout, id: 21, workload: 'stock', title: 'LatencyHigh', alerts: 2, firing: 2 };
    push(message(incidentsPacket([{ ...stock, groupAlerts: 6, groupWorkloads: 3 }, node])));
    expect(rowIds()).toEqual([21, 9]);
    const [root, alone] = screen.getAllByTestId(testIds.incidents.row).map((r) => within(r));
    expect(root.getByText('shop/stock')).toBeInTheDocument();
    expect(root.getByText('root of 2 affected workloads')).toBeInTheDocument();
    expect(root.getByText('6 alerts on 3 workloads')).toBeInTheDocument();
    expect(root.queryByLabelText('2 of 2 alerts firing')).toBeNull();
    // An incident on its own keeps its firing/alerts count.
    expect(alone.getByLabelText('0 of 1 alerts firing')).toHaveTextContent('0/1');
    expect(alone.queryByText(/affected/)).toBeNull();

    // The grouping undone (a split): the root's row stands for itself again.
    push(message(incidentsPacket([stock, node])));
    const after = within(screen.getAllByTestId(testIds.incidents.row)[0]);
    expect(after.getByLabelText('2 of 2 alerts firing')).toBeInTheDocument();
    expect(after.queryByText(/alerts on/)).toBeNull();
  });

  it('updates rows live: a new incident appears, a resolved one moves below the open ones', () => {
    const { push } = setup();
    push(status(LiveChannelConnectionState.Connected, { message: incidentsPacket([checkout]) }));
    expect(rowIds()).toEqual([11]);

    push(message(incidentsPacket([checkout, cart])));
    expect(rowIds()).toEqual([11, 12]);
    expect(screen.getAllByTestId(testIds.incidents.row)[1]).toHaveTextContent('LatencyHigh');

    const resolved = { ...checkout, state: 'resolved', firing: 0, resolvedAt: now, updatedAt: now };
    push(message(incidentsPacket([resolved, cart])));
    expect(rowIds()).toEqual([12, 11]);
    const moved = within(screen.getAllByTestId(testIds.incidents.row)[1]);
    expect(moved.getByText('Resolved')).toBeInTheDocument();
    expect(moved.getByText('lasted 10m')).toBeInTheDocument();
    expect(moved.getByLabelText('0 of 2 alerts firing')).toBeInTheDocument();
  });

  it('filters by the URL query and writes every change back to it', () => {
    const { push } = setup('/a/meshwatch-mesh-app/incidents?state=open&namespace=shop&severity=warning');
    push(message(incidentsPacket([checkout, cart, node])));
    expect(rowIds()).toEqual([12]);
    const filters = screen.getByTestId(testIds.incidents.filters);
    expect(within(filters).getByRole('radio', { name: 'Open' })).toBeChecked();
    expect(within(filters).getByText('warning')).toBeInTheDocument();
    expect(within(filters).getByText('shop')).toBeInTheDocument();

    fireEvent.click(within(filters).getByRole('radio', { name: 'Resolved' }));
    expect(locationService.getSearch().get('state')).toBe('resolved');
    expect(locationService.getSearch().getAll('namespace')).toEqual(['shop']);
    expect(rowIds()).toEqual([]);
    expect(screen.getByTestId(testIds.incidents.noMatch)).toHaveTextContent(
      'No incident matches these filters (3 incidents in all).'
    );

    fireEvent.click(
      within(screen.getByTestId(testIds.incidents.noMatch)).getByRole('button', { name: 'Clear filters' })
    );
    expect(locationService.getLocation().search).toBe('');
    expect(rowIds()).toEqual([11, 12, 9]);
    expect(screen.queryByRole('button', { name: 'Clear filters' })).toBeNull();

    // A link with filters reproduces the view (Back/Forward or a pasted URL).
    act(() => locationService.push('/a/meshwatch-mesh-app/incidents?state=resolved'));
    expect(rowIds()).toEqual([9]);
    expect(within(filters).getByRole('radio', { name: 'Resolved' })).toBeChecked();
  });

  it('shows the store error notice over the last rows; the configuration hint is for admins', () => {
    const { push, unmount } = setup();
    push(message(incidentsPacket([checkout])));
    push(message(incidentsPacket([], 'the incident store cannot be read: database is locked')));
    const notice = screen.getByTestId(testIds.incidents.notice);
    expect(notice).toHaveTextContent('Cannot read the incidents');
    expect(notice).toHaveTextContent('database is locked');
    expect(within(notice).queryByRole('link')).toBeNull();
    expect(rowIds()).toEqual([11]);
    expect(screen.getByText(/Showing the incidents last read at/)).toBeInTheDocument();

    push(message(incidentsPacket([checkout, cart])));
    expect(screen.queryByTestId(testIds.incidents.notice)).toBeNull();
    unmount();

    setRole('Admin');
    const admin = setup();
    admin.push(message(incidentsPacket([], 'the incident store cannot be opened')));
    expect(
      within(screen.getByTestId(testIds.incidents.notice)).getByRole('link', { name: 'configuration page' })
    ).toHaveAttribute('href', '/plugins/meshwatch-mesh-app');
    expect(screen.queryByText('Connecting to the live incidents stream…')).toBeNull();
    expect(screen.queryByTestId(testIds.incidents.empty)).toBeNull();
  });

  it('says the stream is down and joins it again on its own', () => {
    jest.useFakeTimers();
    try {
      const { push } = setup();
      push(message(incidentsPacket([checkout])));
      const first = events;
      events = new Subject();
      act(() => first.complete());
      expect(screen.getByTestId(testIds.incidents.streamError)).toHaveTextContent(
        'The live incidents stream closed; reconnecting…'
      );
      expect(rowIds()).toEqual([11]);
      act(() => {
        jest.advanceTimersByTime(1000);
      });
      expect(getStream).toHaveBeenCalledTimes(2);
      push(message(incidentsPacket([checkout, cart])));
      expect(screen.queryByTestId(testIds.incidents.streamError)).toBeNull();
      expect(rowIds()).toEqual([11, 12]);
    } finally {
      jest.useRealTimers();
    }
  });

  it('opens an incident’s alerts in a drawer, kept in the URL, and fetches them again when it changes', async () => {
    const answer: IncidentDetail = {
      incident: {
        id: 12,
        key: { namespace: 'shop', workload: 'cart' },
        state: 'open',
        severity: 'warning',
        title: 'LatencyHigh',
        startedAt: new Date(now - 30 * MIN).toISOString(),
        resolvedAt: '0001-01-01T00:00:00Z',
        updatedAt: new Date(now - 20 * MIN).toISOString(),
        reopens: [new Date(now - 25 * MIN).toISOString()],
        flapping: true,
        alerts: 2,
        firing: 1,
        version: 4,
      },
      alerts: [
        {
          fingerprint: 'a1b2c3d4e5f60718',
          status: 'firing',
          labels: { alertname: 'LatencyHigh', namespace: 'shop', pod: 'cart-7d9f8-abcde', severity: 'warning' },
          annotations: { summary: 'cart p99 above 800ms', runbook_url: 'https://runbooks.example/latency' },
          startsAt: new Date(now - 30 * MIN).toISOString(),
          endsAt: '0001-01-01T00:00:00Z',
          generatorURL: 'http://prometheus.example:9090/graph?g0.expr=up',
          source: 'alertmanager',
          firstSeen: new Date(now - 30 * MIN).toISOString(),
          lastSeen: new Date(now - MIN).toISOString(),
        },
        {
          fingerprint: '0f0e0d0c0b0a0908',
          status: 'resolved',
          labels: { alertname: 'LatencyHigh', namespace: 'shop', pod: 'cart-7d9f8-fghij' },
          startsAt: new Date(now - 28 * MIN).toISOString(),
          endsAt: new Date(now - 22 * MIN).toISOString(),
          generatorURL: 'javascript:alert(1)',
          source: 'grafana',
          firstSeen: new Date(now - 28 * MIN).toISOString(),
          lastSeen: new Date(now - 22 * MIN).toISOString(),
        },
      ],
    };
    detail = (url) =>
      url === '/api/plugins/meshwatch-mesh-app/resources/incidents/12'
        ? of({ data: answer, status: 200 })
        : throwError(() => ({ status: 404, data: { error: 'no such incident' } }));

    const { push } = setup();
    push(message(incidentsPacket([checkout, cart])));
    fireEvent.click(screen.getByRole('button', { name: /Show the alerts of LatencyHigh on shop\/cart/ }));
    expect(locationService.getSearch().get('incident')).toBe('12');

    const drawer = await screen.findByTestId(testIds.incidents.drawer, {}, SLOW);
    const cards = await within(drawer).findAllByTestId(testIds.incidents.drawerAlert, {}, SLOW);
    expect(fetches).toEqual(['/api/plugins/meshwatch-mesh-app/resources/incidents/12']);
    expect(within(drawer).getByText('Alerts (2, 1 firing)')).toBeInTheDocument();
    const firing = within(cards[0]);
    expect(firing.getByText('Firing')).toBeInTheDocument();
    expect(firing.getByText('from alertmanager')).toBeInTheDocument();
    expect(firing.getByText('pod=cart-7d9f8-abcde')).toBeInTheDocument();
    expect(firing.getByText('cart p99 above 800ms')).toBeInTheDocument();
    expect(firing.getByText('still firing')).toBeInTheDocument();
    expect(firing.getByRole('link', { name: 'Rule source of LatencyHigh' })).toHaveAttribute(
      'href',
      'http://prometheus.example:9090/graph?g0.expr=up'
    );
    const resolved = within(cards[1]);
    expect(resolved.getByText('Resolved')).toBeInTheDocument();
    expect(resolved.getByText('from grafana')).toBeInTheDocument();
    expect(resolved.queryByRole('link')).toBeNull(); // a javascript: generatorURL is not linked
    expect(within(drawer).getByText('Workload')).toBeInTheDocument();
    expect(within(drawer).getByText('Reopened')).toBeInTheDocument();

    // The incident changes on the stream: its alerts are fetched again.
    push(message(incidentsPacket([checkout, { ...cart, updatedAt: now, firing: 2 }])));
    await waitFor(() => expect(fetches).toHaveLength(2), SLOW);

    fireEvent.click(screen.getByRole('button', { name: /close/i }));
    expect(locationService.getSearch().get('incident')).toBeNull();
    await waitFor(() => expect(screen.queryByTestId(testIds.incidents.drawer)).toBeNull(), SLOW);
  });

  it('a link to an incident opens its drawer; a failed fetch says why', async () => {
    const { push } = setup('/a/meshwatch-mesh-app/incidents?incident=404');
    push(message(incidentsPacket([checkout])));
    const err = await screen.findByTestId(testIds.incidents.detailError, {}, SLOW);
    expect(err).toHaveTextContent('Cannot load the incident’s alerts');
    expect(err).toHaveTextContent('no such incident');
    expect(fetches).toEqual(['/api/plugins/meshwatch-mesh-app/resources/incidents/404']);
  });

  it('offers no mutating control to any role (the list is read-only)', () => {
    for (const role of ['Viewer', 'Editor', 'Admin'] as const) {
      setRole(role);
      const { push, unmount } = setup('/a/meshwatch-mesh-app/incidents?severity=critical');
      push(message(incidentsPacket([checkout, cart, node])));
      const names = screen.getAllByRole('button').map((b) => b.getAttribute('aria-label') || b.textContent || '');
      expect(
        names.filter((n) => /save|approve|reject|promote|roll ?back|delete|disable|enable|reset|sign.?off/i.test(n))
      ).toEqual([]);
      unmount();
    }
  });
});
