/*
 * The whole way in, on real parts: the stack's simulated fault makes the
 * real Prometheus fire a rule, the real Alertmanager posts its real webhook
 * with the --stack service-account token (credentials_file) to the preview
 * host's resource route, which plays Grafana's and hands it to the plugin
 * binary over the real plugin protocol; the incident is on the Incidents
 * page. Then an alert posted to that Alertmanager's own API (as any
 * Prometheus would) comes in the same way and appears on the open page,
 * without a reload. For every role, with a screenshot.
 *
 * Nothing here knows the scenario's names: the fault's namespace and
 * workload are read from what the real Prometheus fires.
 */
import { type APIRequestContext, type Page } from '@playwright/test';
import { ROLES, expect, openPage, previewURL, test } from './fixtures';

const ROW = 'data-testid incidents-row';
const WORKLOAD_LABELS = ['workload', 'destination_workload', 'deployment', 'statefulset', 'daemonset', 'app', 'service'];

interface PromAlert {
  labels: Record<string, string>;
  state: string;
}

/** The datasource the host lists under uid (the stack's real server). */
async function datasourceURL(api: APIRequestContext, uid: string): Promise<string> {
  const res = await api.get(`/api/datasources/uid/${uid}`, { headers: { 'X-Preview-Role': 'Admin' } });
  expect(res.status()).toBe(200);
  return (await res.json()).url as string;
}

/** The namespace/workload of an alert the real Prometheus fires now, once one does. */
async function firingSubject(api: APIRequestContext): Promise<string> {
  let subject = '';
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
            subject = `${a.labels.namespace}/${wl}`;
            return subject;
          }
        }
        return '';
      },
      { timeout: 150_000, intervals: [2_000], message: 'the stack’s fault never fired a rule in the real Prometheus' }
    )
    .not.toBe('');
  return subject;
}

async function markDocument(page: Page) {
  await page.evaluate(() => ((window as unknown as { meshwatchMark: string }).meshwatchMark = 'same document'));
}

test.describe('alerts reach the Incidents page through the real Alertmanager', () => {
  test.describe.configure({ timeout: 240_000 });

  for (const role of ROLES) {
    test.describe(`as ${role}`, () => {
      test.use({ role });

      test('the fault’s incident is listed, and a new alert appears live', async ({ page, playwright }, testInfo) => {
        const api = await playwright.request.newContext({ baseURL: previewURL() });
        try {
          const subject = await firingSubject(api);
          await openPage(page, 'incidents');
          await markDocument(page);
          // Prometheus → Alertmanager → webhook → plugin: the fault's incident.
          await expect(page.getByTestId(ROW).filter({ hasText: subject })).not.toHaveCount(0, { timeout: 120_000 });

          // A new alert, posted to the real Alertmanager's API as a Prometheus would.
          const am = await datasourceURL(api, 'alertmanager');
          const ns = `live-${role.toLowerCase()}-${Date.now().toString(36)}`;
          const posted = await api.post(`${am}/api/v2/alerts`, {
            data: [
              {
                labels: { alertname: 'KubePodCrashLooping', namespace: ns, pod: 'ledger-7d9c6b5f4-x2x9z', severity: 'warning' },
                annotations: { summary: 'Pod is crash looping.' },
                startsAt: new Date(Date.now() - 60_000).toISOString(),
              },
            ],
          });
          expect(posted.status()).toBe(200);
          const row = page.getByTestId(ROW).filter({ hasText: `${ns}/ledger` });
          await expect(row).toHaveCount(1, { timeout: 60_000 });
          await expect(row).toContainText('KubePodCrashLooping');
          expect(await page.evaluate(() => (window as unknown as { meshwatchMark?: string }).meshwatchMark)).toBe(
            'same document'
          );
          await page.screenshot({ path: testInfo.outputPath(`incidents-real-alertmanager-${role}.png`), fullPage: true });
        } finally {
          await api.dispose();
        }
      });
    });
  }
});

