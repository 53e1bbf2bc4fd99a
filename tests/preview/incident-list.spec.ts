/*
 * The Incidents page's incident list on the plugin's real backend: an
 * Alertmanager webhook (payload version 4) posted to the plugin's intake
 * route with the --stack service-account token, as a real Alertmanager
 * sends it, becomes an incident on the open page over the Live channel
 * plugin/meshwatch-mesh-app/incidents, without a reload; a resolved
 * delivery moves it to resolved, live; the filters narrow the list and a
 * link reproduces the view. Each test uses namespaces of its own, so the
 * incidents the stack's own Alertmanager delivers do not matter.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type APIRequestContext, type Page, type WebSocket } from '@playwright/test';
import { expectNoSeriousAxeViolations, expectTabReachesEveryControl } from './a11y';
import { PLUGIN_ID, ROLES, expect, openPage, previewURL, test } from './fixtures';

const INTAKE = `/api/plugins/${PLUGIN_ID}/resources/intake/alertmanager`;
const CHANNEL = `plugin/${PLUGIN_ID}/incidents`;
const ROW = 'data-testid incidents-row';
const MUTATING = /save|approve|reject|promote|roll ?back|delete|remove|disable|enable|reset|sign.?off/i;

interface TestAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt: string;
  endsAt?: string;
  status?: 'firing' | 'resolved';
  generatorURL?: string;
}

/** A unique name for this test's namespaces and workloads. */
function unique(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;
}

/** Alertmanager's webhook body (version 4) for one group of alerts. */
function payload(alerts: TestAlert[]) {
  const status = alerts.some((a) => (a.status ?? 'firing') === 'firing') ? 'firing' : 'resolved';
  const common = Object.fromEntries(
    Object.entries(alerts[0].labels).filter(([k, v]) => alerts.every((a) => a.labels[k] === v))
  );
  return {
    version: '4',
    groupKey: `{}/{}:{namespace="${alerts[0].labels.namespace ?? ''}"}`,
    truncatedAlerts: 0,
    status,
    receiver: 'meshwatch',
    groupLabels: { namespace: alerts[0].labels.namespace ?? '' },
    commonLabels: common,
    commonAnnotations: {},
    externalURL: 'http://alertmanager.example:9093',
    alerts: alerts.map((a) => ({
      status: a.status ?? 'firing',
      labels: a.labels,
      annotations: a.annotations ?? {},
      startsAt: a.startsAt,
      endsAt: a.endsAt ?? '0001-01-01T00:00:00Z',
      generatorURL: a.generatorURL ?? '',
      fingerprint: '',
    })),
  };
}

/** The Viewer service-account token --stack wrote (what the stack's Alertmanager presents). */
function serviceAccountToken(): string {
  const file = path.join(process.env.PREVIEW_WORKDIR ?? '', 'main', 'preview-service-account-token');
  return fs.readFileSync(file, 'utf8').trim();
}

/** Posts a webhook as a sender does: no browser session, the service-account token as bearer. */
async function postWebhook(api: APIRequestContext, alerts: TestAlert[]) {
  const res = await api.post(INTAKE, { data: payload(alerts) });
  const body = await res.json();
  expect(res.status(), JSON.stringify(body)).toBe(200);
  expect(body.accepted).toBe(alerts.length);
  expect(body.rejected ?? []).toEqual([]);
  return body as { accepted: number; incidents: number[] };
}

/**
 * Delivers alerts as the stack's Alertmanager would: the test posts the
 * webhook itself, and tells that Alertmanager about the same alerts
 * (POST /api/v2/alerts). The plugin reconciles with that Alertmanager every
 * minute and resolves what it does not hold, as it should for alerts whose
 * sender forgot them; an Alertmanager that sends a webhook always holds its
 * alerts. Alertmanager then sends its own webhook too: the same fingerprints,
 * so the same incident (the row's alert count shows no duplicate).
 */
async function deliver(api: APIRequestContext, alerts: TestAlert[]) {
  const body = await postWebhook(api, alerts);
  // Straight to Alertmanager's API (no Grafana token: it is not Grafana).
  const res = await fetch(`${await alertmanagerURL(api)}/api/v2/alerts`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(
      alerts.map((a) => ({
        labels: a.labels,
        annotations: a.annotations ?? {},
        startsAt: a.startsAt,
        ...(a.endsAt ? { endsAt: a.endsAt } : {}),
        generatorURL: a.generatorURL ?? '',
      }))
    ),
  });
  expect(res.status, await res.text()).toBe(200);
  return body;
}

let amURL: string | undefined;
/** The stack's real Alertmanager, as the preview host lists it among its datasources. */
async function alertmanagerURL(api: APIRequestContext): Promise<string> {
  if (!amURL) {
    const list = (await (await api.get('/api/datasources')).json()) as Array<{ uid: string; url: string }>;
    amURL = list.find((ds) => ds.uid === 'alertmanager')?.url;
    expect(amURL, 'the stack lists its Alertmanager').toMatch(/^http:\/\/127\.0\.0\.1:\d+/);
  }
  return amURL!.replace(/\/$/, '');
}

/** Marks the document, so a test can tell that the page was never reloaded. */
async function markDocument(page: Page) {
  await page.evaluate(() => ((window as unknown as { meshwatchMark: string }).meshwatchMark = 'still here'));
}
async function expectSameDocument(page: Page) {
  expect(await page.evaluate(() => (window as unknown as { meshwatchMark?: string }).meshwatchMark)).toBe('still here');
}

const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();

test.describe('incident list', () => {
  let api: APIRequestContext;

  test.beforeEach(async ({ playwright }) => {
    api = await playwright.request.newContext({
      baseURL: previewURL(),
      extraHTTPHeaders: { Authorization: `Bearer ${serviceAccountToken()}` },
    });
  });
  test.afterEach(async () => {
    await api.dispose();
  });

  for (const role of ROLES) {
    test.describe(`as ${role}`, () => {
      test.use({ role });

      test('a webhook becomes an incident on the open page, live; resolving it moves it to resolved', async ({
        page,
      }) => {
        const sent: string[] = [];
        page.on('websocket', (ws: WebSocket) => ws.on('framesent', (f) => sent.push(String(f.payload))));
        const ns = unique('e2e');
        const workload = 'orders';
        const alertname = 'HighRequestErrorRate';
        const alert: TestAlert = {
          labels: { alertname, namespace: ns, deployment: workload, severity: 'critical', instance: '10.0.0.7:8080' },
          annotations: {
            summary: `${workload} answers 5xx to 9% of requests`,
            runbook_url: 'https://runbooks.example/5xx',
          },
          startsAt: minutesAgo(12),
          generatorURL: 'http://prometheus.example:9090/graph?g0.expr=rate%28errors%5B5m%5D%29',
        };

        await openPage(page, 'incidents');
        await expect(page.getByRole('heading', { name: 'Incident list', level: 2 })).toBeVisible();
        await expect(page.getByText('Connecting to the live incidents stream…')).toHaveCount(0);
        await markDocument(page);
        const row = page.getByTestId(ROW).filter({ hasText: `${ns}/${workload}` });
        await expect(row).toHaveCount(0);

        const { incidents } = await deliver(api, [alert]);
        expect(incidents).toHaveLength(1);

        // Pushed over the page's Live subscription, no reload.
        await expect(row).toHaveCount(1);
        await expectSameDocument(page);
        expect(sent.some((f) => f.includes(`"channel":"${CHANNEL}"`))).toBe(true);
        await expect(row).toHaveAttribute('data-incident-id', String(incidents[0]));
        await expect(row).toContainText('critical');
        await expect(row).toContainText('Open');
        await expect(row.getByRole('button', { name: new RegExp(alertname) })).toBeVisible();
        await expect(row).toContainText(`${workload} answers 5xx to 9% of requests`);
        await expect(row).toContainText('12 minutes ago');
        await expect(row.getByLabel('1 of 1 alerts firing')).toHaveText('1/1');
        await expect(row).toContainText('—');
        // Open incidents come before every resolved one.
        const states = await page
          .getByTestId(ROW)
          .evaluateAll((rows) => rows.map((r) => (r.textContent?.includes('Resolved') ? 'resolved' : 'open')));
        expect(states.indexOf('resolved') === -1 || states.lastIndexOf('open') < states.indexOf('resolved')).toBe(true);

        // The read-only list offers no mutating control to any role.
        const mutating = await page
          .locator('main')
          .getByRole('button', { name: MUTATING })
          .evaluateAll((els) => els.filter((el) => !(el as HTMLButtonElement).disabled).map((el) => el.textContent));
        expect(mutating).toEqual([]);
        await expectNoSeriousAxeViolations(page);
        await expectTabReachesEveryControl(page);

        // Its alerts, from GET incidents/{id}, in a drawer kept in the URL.
        await row.getByRole('button', { name: new RegExp(alertname) }).click();
        await expect(page).toHaveURL(new RegExp(`[?&]incident=${incidents[0]}(&|$)`));
        const drawer = page.getByTestId('data-testid incidents-drawer');
        const card = drawer.getByTestId('data-testid incidents-drawer-alert');
        await expect(card).toHaveCount(1);
        await expect(card).toContainText('Firing');
        await expect(card).toContainText('from alertmanager');
        await expect(card.getByRole('listitem').filter({ hasText: `deployment=${workload}` })).toHaveCount(1);
        await expect(card.getByRole('listitem').filter({ hasText: 'instance=10.0.0.7:8080' })).toHaveCount(1);
        await expect(card).toContainText('https://runbooks.example/5xx');
        await expect(card.getByRole('link', { name: `Rule source of ${alertname}` })).toHaveAttribute(
          'href',
          alert.generatorURL!
        );
        await expectNoSeriousAxeViolations(page);
        await page.getByRole('button', { name: 'Close', exact: true }).click();
        await expect(drawer).toHaveCount(0);
        await expect(page).not.toHaveURL(/[?&]incident=/);

        // The alert resolves: the incident turns resolved on the open page.
        await deliver(api, [
          { ...alert, status: 'resolved', endsAt: new Date(Date.parse(alert.startsAt) + 11 * 60_000).toISOString() },
        ]);
        await expect(row).toContainText('Resolved');
        await expect(row).toContainText('lasted 11m');
        await expect(row.getByLabel('0 of 1 alerts firing')).toHaveText('0/1');
        await expectSameDocument(page);
      });
    });
  }

  test('a delivery with a wrong service-account token is refused (401) and opens nothing', async ({
    page,
    playwright,
  }) => {
    const ns = unique('e2e-denied');
    const body = payload([
      { labels: { alertname: 'HighRequestErrorRate', namespace: ns, workload: 'x' }, startsAt: minutesAgo(3) },
    ]);
    const anonymous = await playwright.request.newContext({ baseURL: previewURL() }); // no session
    try {
      const wrong = await anonymous.post(INTAKE, { data: body, headers: { Authorization: 'Bearer glsa_wrong' } });
      expect(wrong.status()).toBe(401);
    } finally {
      await anonymous.dispose();
    }
    await openPage(page, 'incidents');
    await expect(page.getByTestId('data-testid incidents-updated')).toBeVisible();
    await expect(page.getByTestId(ROW).filter({ hasText: ns })).toHaveCount(0);
    const listed = await page.request.get(`/api/plugins/${PLUGIN_ID}/resources/incidents?namespace=${ns}`);
    expect(listed.status()).toBe(200);
    expect((await listed.json()).incidents).toEqual([]);
  });

  test('filters by state, severity and namespace, kept in the URL; a link reproduces the view', async ({ page }) => {
    const ns = unique('e2e-shop');
    const other = unique('e2e-pay');
    await deliver(api, [
      {
        labels: { alertname: 'HighRequestErrorRate', namespace: ns, workload: 'cart', severity: 'critical' },
        startsAt: minutesAgo(20),
      },
      {
        labels: { alertname: 'LatencyHigh', namespace: ns, workload: 'search', severity: 'warning' },
        startsAt: minutesAgo(15),
      },
    ]);
    await deliver(api, [
      {
        labels: { alertname: 'PodRestarting', namespace: other, statefulset: 'ledger', severity: 'warning' },
        startsAt: minutesAgo(30),
      },
    ]);
    // One of ns's incidents is resolved already.
    await deliver(api, [
      {
        labels: { alertname: 'LatencyHigh', namespace: ns, workload: 'search', severity: 'warning' },
        startsAt: minutesAgo(15),
        endsAt: minutesAgo(2),
        status: 'resolved',
      },
    ]);

    await openPage(page, 'incidents');
    const mine = page.getByTestId(ROW).filter({ hasText: new RegExp(`${ns}|${other}`) });
    await expect(mine).toHaveCount(3);
    await markDocument(page);
    const filters = page.getByTestId('data-testid incidents-filters');

    // Namespace: pick ns from the options the incidents hold.
    const namespace = filters.getByRole('combobox', { name: 'Namespace' });
    await namespace.click();
    await namespace.fill(ns);
    await page.getByRole('option', { name: ns, exact: true }).click();
    await page.keyboard.press('Escape');
    await expect(page).toHaveURL(new RegExp(`[?&]namespace=${ns}(&|$)`));
    await expect(page.getByTestId(ROW)).toHaveCount(2);
    await expect(page.getByTestId(ROW).filter({ hasText: other })).toHaveCount(0);

    // State: open only.
    await filters.getByRole('radio', { name: 'Open' }).check();
    await expect(page).toHaveURL(/[?&]state=open(&|$)/);
    await expect(page.getByTestId(ROW)).toHaveCount(1);
    await expect(page.getByTestId(ROW)).toContainText(`${ns}/cart`);

    // Severity: warning (the open one is critical): nothing matches.
    const severity = filters.getByRole('combobox', { name: 'Severity' });
    await severity.click();
    await severity.fill('warning');
    await page.getByRole('option', { name: 'warning', exact: true }).click();
    await page.keyboard.press('Escape');
    await expect(page).toHaveURL(/[?&]severity=warning(&|$)/);
    await expect(page.getByTestId(ROW)).toHaveCount(0);
    await expect(page.getByTestId('data-testid incidents-no-match')).toContainText('No incident matches these filters');

    // Resolved + warning in ns: the resolved search incident.
    await filters.getByRole('radio', { name: 'Resolved' }).check();
    await expect(page.getByTestId(ROW)).toHaveCount(1);
    await expect(page.getByTestId(ROW)).toContainText(`${ns}/search`);
    await expect(page.getByTestId(ROW)).toContainText('Resolved');
    await expectSameDocument(page);

    // The URL alone reproduces the view, in a fresh page load.
    const link = page.url();
    await page.goto('about:blank');
    await page.goto(link);
    await expect(page.getByTestId(ROW)).toHaveCount(1);
    await expect(page.getByTestId(ROW)).toContainText(`${ns}/search`);
    await expect(
      page.getByTestId('data-testid incidents-filters').getByRole('radio', { name: 'Resolved' })
    ).toBeChecked();
    await expect(page.getByTestId('data-testid incidents-filters')).toContainText(ns);
    await expect(page.getByTestId('data-testid incidents-filters')).toContainText('warning');

    // A new incident in ns arrives live and shows up only when the filters let it through.
    await deliver(api, [
      {
        labels: { alertname: 'DiskAlmostFull', namespace: ns, workload: 'db', severity: 'warning' },
        startsAt: minutesAgo(1),
      },
    ]);
    await page.getByTestId('data-testid incidents-filters').getByRole('radio', { name: 'Open' }).check();
    await expect(page.getByTestId(ROW)).toHaveCount(1);
    await expect(page.getByTestId(ROW)).toContainText(`${ns}/db`);

    await page.getByRole('button', { name: 'Clear filters' }).click();
    await expect(page).not.toHaveURL(/[?&](state|severity|namespace)=/);
    await expect(page.getByTestId(ROW).filter({ hasText: new RegExp(`${ns}|${other}`) })).toHaveCount(4);
  });
});
