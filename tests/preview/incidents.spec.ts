/*
 * The Incidents page's live alerts, end to end: the real Prometheus behind
 * the preview (--stack sidecar-memory-leak) evaluates the mesh alert rules
 * over the simulated mesh; the plugin backend's `alerts` stream
 * (SubscribeStream + RunStream) reads them and the preview host delivers
 * the frames over its Live websocket to the page.
 */
import { type WebSocket } from '@playwright/test';
import { expectNoSeriousAxeViolations, expectTabReachesEveryControl } from './a11y';
import { ROLES, expect, openPage, previewURL, test } from './fixtures';

const ROW = 'data-testid incidents-alert-row';
const CHANNEL = 'plugin/meshwatch-mesh-app/alerts';

for (const role of ROLES) {
  test.describe(`as ${role}`, () => {
    test.use({ role });

    test('Alerts now shows the scenario’s alert, live from Prometheus', async ({ page }) => {
      const sockets: WebSocket[] = [];
      const sent: string[] = [];
      page.on('websocket', (ws) => {
        sockets.push(ws);
        ws.on('framesent', (f) => sent.push(String(f.payload)));
      });
      await openPage(page, 'incidents');
      const row = page.getByTestId(ROW).filter({ hasText: 'MeshSidecarMemoryLeak' });
      // The rule is evaluated every 5 s on the stack; the stream sends at
      // once and then on change.
      await expect(row).toHaveCount(1, { timeout: 45_000 });
      await expect(row).toContainText('shop/api');
      await expect(row).toContainText(/Pending|Firing/);
      await expect(row.getByRole('link', { name: /Dashboard/ })).toHaveAttribute('href', /^\/d\/meshwatch-/);
      await expect(page.getByTestId('data-testid incidents-alerts-notice')).toHaveCount(0);

      // It came over the preview host's Live websocket, subscribed to the
      // plugin's channel.
      expect(sockets.map((s) => new URL(s.url()).pathname)).toContain('/api/live/ws');
      expect(sent.some((f) => f.includes(`"channel":"${CHANNEL}"`))).toBe(true);

      await expectNoSeriousAxeViolations(page);
      await expectTabReachesEveryControl(page);

      // Leaving the page ends the subscription.
      await page.getByRole('navigation', { name: 'MeshWatch' }).getByRole('link', { name: 'Canaries' }).click();
      await expect.poll(() => sent.some((f) => f.includes('"unsubscribe":true'))).toBe(true);
    });

    test('an alert’s Dashboard link opens the labelled dashboard placeholder with its variables', async ({ page }) => {
      await openPage(page, 'incidents');
      const row = page.getByTestId(ROW).filter({ hasText: 'MeshSidecarMemoryLeak' });
      await expect(row).toHaveCount(1, { timeout: 45_000 });
      const link = row.getByRole('link', { name: /Dashboard/ });
      const href = (await link.getAttribute('href')) ?? '';
      const uid = href.match(/^\/d\/([^/?]+)/)?.[1];
      await link.click();
      await expect(page).toHaveURL(new RegExp(`/d/${uid}`));
      // Dashboards are Grafana's: the host says so and shows what would open.
      await expect(page.getByRole('heading', { level: 1 })).toHaveText(/^Dashboard: MeshWatch \/ /);
      await expect(page.getByText('Dashboards are drawn by Grafana, not by the preview host')).toBeVisible();
      const vars = page.getByRole('definition');
      await expect(vars.filter({ hasText: /^shop$/ })).toHaveCount(1);
      await expect(vars.filter({ hasText: /^api$/ })).toHaveCount(1);
      // The link carries the datasources the app settings pick (provisioning: the uids prometheus,
      // loki, tempo) as the dashboard's datasource variables.
      expect(new URL(href, previewURL()).searchParams.get('var-datasource')).toBe('prometheus');
      for (const [name, uid] of [
        ['datasource', 'prometheus'],
        ['loki', 'loki'],
        ['tempo', 'tempo'],
      ]) {
        const term = page.getByRole('term').filter({ hasText: new RegExp(`^${name}$`) });
        await expect(term).toHaveCount(1);
        await expect(term.locator('xpath=following-sibling::dd[1]')).toHaveText(uid);
      }
      const panels = page.getByRole('list', { name: 'Dashboard panels' }).getByRole('listitem');
      expect(await panels.count()).toBeGreaterThan(3);
      await expectNoSeriousAxeViolations(page);
    });
  });
}

test('the alert turns Firing on the open page: its `for` is restored from the history', async ({ page }) => {
  // The leak began hours before the stack started, longer ago than the
  // rule's 30m `for`; the stack recorded that in ALERTS_FOR_STATE, so
  // Prometheus fires it after two evaluations (30 s apart) and the stream
  // pushes the change to the page without a reload.
  test.setTimeout(180_000);
  await openPage(page, 'incidents');
  const row = page.getByTestId(ROW).filter({ hasText: 'MeshSidecarMemoryLeak' });
  await expect(row).toHaveCount(1, { timeout: 45_000 });
  await expect(row).toContainText('Firing', { timeout: 120_000 });
});
