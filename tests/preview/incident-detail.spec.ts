/*
 * The incident drawer's findings, end to end on real parts: the stack's
 * simulated fault makes the real Prometheus fire a rule, the incident comes
 * in through the real Alertmanager's webhook, the plugin's worker captures
 * its evidence (real Prometheus and Loki) and runs the detectors; the
 * drawer shows the ranked findings with the evidence they cite.
 *
 * Nothing here knows the scenario's names: the fault's namespace and
 * workload are read from what the real Prometheus fires.
 */
import { type APIRequestContext } from '@playwright/test';
import { expect, openPage, previewURL, test } from './fixtures';

const ROW = 'data-testid incidents-row';
const DRAWER = 'data-testid incidents-drawer';
const FINDING = 'data-testid incidents-finding';
const CHARTS = 'data-testid incidents-evidence-charts';
const STAND_IN = 'preview stand-in panel';
const RESOURCES = '/api/plugins/meshwatch-mesh-app/resources';
const WORKLOAD_LABELS = [
  'workload',
  'destination_workload',
  'deployment',
  'statefulset',
  'daemonset',
  'app',
  'service',
];

interface PromAlert {
  labels: Record<string, string>;
  state: string;
}

/** The namespace and workload of an alert the real Prometheus fires now, once one does. */
async function firingSubject(api: APIRequestContext): Promise<{ namespace: string; workload: string }> {
  let subject = { namespace: '', workload: '' };
  await expect
    .poll(
      async () => {
        const res = await api.get('/api/datasources/proxy/uid/prometheus/api/v1/alerts', {
          headers: { 'X-Preview-Role': 'Viewer' },
        });
        const alerts = ((await res.json()).data.alerts as PromAlert[]).filter((a) => a.state === 'firing');
        for (const a of alerts) {
          const wl = WORKLOAD_LABELS.map((l) => a.labels[l]).find(Boolean);
          if (a.labels.namespace && wl) {
            subject = { namespace: a.labels.namespace, workload: wl };
            return wl;
          }
        }
        return '';
      },
      { timeout: 150_000, intervals: [2_000], message: 'the stack’s fault never fired a rule in the real Prometheus' }
    )
    .not.toBe('');
  return subject;
}

test.describe('the incident drawer’s findings', () => {
  // The detectors rank the stack's leak from the incident's first capture
  // (it is 1½ hours from its limit); the timeout leaves room for a slow machine.
  test.describe.configure({ timeout: 720_000 });
  test.use({ role: 'Viewer' });

  test('the fault’s incident ranks a finding naming the firing workload, with its evidence and links', async ({
    page,
    playwright,
  }, testInfo) => {
    const api = await playwright.request.newContext({ baseURL: previewURL() });
    try {
      const { namespace, workload } = await firingSubject(api);
      const who = `${namespace}/${workload}`;
      await openPage(page, 'incidents');
      const row = page.getByTestId(ROW).filter({ hasText: who });
      await expect(row).not.toHaveCount(0, { timeout: 120_000 });
      await row.first().getByRole('button').first().click();
      // The first capture's evidence, before the detectors rank a finding.
      await expect(page.getByTestId(DRAWER).getByRole('region', { name: 'Evidence' })).toBeVisible({ timeout: 90_000 });
      await page.screenshot({ path: testInfo.outputPath('incident-drawer-evidence.png') });
      // The worker captures at once and then every minute; the list's Top finding shows the latest capture's.
      await expect(row.first()).toContainText(new RegExp(`${who}: [a-z-]+ — `), { timeout: 540_000 });
      await expect(page).toHaveURL(/[?&]incident=\d+(&|$)/);
      const drawer = page.getByTestId(DRAWER);
      await expect(drawer).toBeVisible();

      await expect(drawer.getByTestId(FINDING).first()).toBeVisible({ timeout: 30_000 });
      const named = drawer.getByTestId(FINDING).filter({ hasText: who });
      await expect(named).not.toHaveCount(0);
      // The finding cites evidence, resolved from the pack.
      await expect(
        named
          .first()
          .getByRole('list', { name: /^Evidence of finding/ })
          .getByRole('listitem')
      ).not.toHaveCount(0);
      await expect(drawer.getByRole('region', { name: 'Evidence' })).toContainText('Window');
      await expect(drawer.getByRole('link', { name: 'Workload dashboard' })).toHaveAttribute(
        'href',
        new RegExp(`^/d/meshwatch-workload\\?var-namespace=${namespace}&var-workload=`)
      );
      for (const link of await drawer.getByRole('link', { name: /Explore/ }).all()) {
        await expect(link).toHaveAttribute('href', /^\/explore\?schemaVersion=1&orgId=1&panes=/);
      }
      await drawer.getByTestId(FINDING).first().scrollIntoViewIfNeeded();
      await page.screenshot({ path: testInfo.outputPath('incident-drawer-findings.png') });
      await page.screenshot({ path: testInfo.outputPath('incident-drawer-findings-full.png'), fullPage: true });

      // Charts of the series the top findings cite, read by the series route with the
      // capture's own queries, drawn through PanelRenderer (here the host's stand-in
      // time series panel).
      const id = Number(new URL(page.url()).searchParams.get('incident'));
      const headers = { 'X-Preview-Role': 'Viewer' };
      const detail = await (await api.get(`${RESOURCES}/incidents/${id}`, { headers })).json();
      const metricIds = new Set<string>(
        ((detail.evidence.pack.metrics ?? []) as Array<{ id: string }>).map((m) => m.id)
      );
      const cited: string[] = [];
      for (const f of (detail.evidence.findings as Array<{ evidence?: string[] }>).slice(0, 3)) {
        for (const e of f.evidence ?? []) {
          if (metricIds.has(e) && !cited.includes(e) && cited.length < 6) {
            cited.push(e);
          }
        }
      }
      expect(cited.length, 'the top findings cite no metric series').toBeGreaterThan(0);
      const res = await api.get(`${RESOURCES}/incidents/${id}/series?ids=${cited.join(',')}`, { headers });
      expect(res.status()).toBe(200);
      const frames = (await res.json()).frames as Array<{
        schema: { name: string; meta?: { executedQueryString?: string } };
        data: { values: unknown[][] };
      }>;
      expect(frames.map((f) => f.schema.name)).toEqual(cited);
      for (const f of frames) {
        expect(f.schema.meta?.executedQueryString, `${f.schema.name}'s query`).toBeTruthy();
        expect(f.data.values[0].length, `${f.schema.name}'s points`).toBeGreaterThan(10);
      }
      const charts = drawer.getByTestId(CHARTS);
      await charts.scrollIntoViewIfNeeded();
      await expect(charts).toContainText('Charts of the evidence the top findings cite');
      const panels = charts.getByTestId(STAND_IN);
      await expect(panels).toHaveCount(cited.length, { timeout: 30_000 });
      await expect(panels.first()).toHaveAttribute('data-plugin-id', 'timeseries');
      await expect(panels.first()).toContainText('stand-in timeseries panel');
      await expect(panels.first().locator('canvas').first()).toBeVisible();
      await page.screenshot({ path: testInfo.outputPath('incident-drawer-charts.png') });
    } finally {
      await api.dispose();
    }
  });
});
