/*
 * npm run screenshots: every page at 1440×900 in the light and the dark
 * theme, as an Admin, on the preview host, into
 * src/img/screenshots/<page>-<theme>.png, the configuration page's advanced
 * options (configuration-advanced-<theme>.png) and an incident's alerts in
 * the drawer (incident-drawer-<theme>.png), and the charts of its evidence
 * series (incident-charts-<theme>.png: the host's stand-in time series panel).
 */
import path from 'node:path';
import { PAGES, type PageName, expect, openPage, test } from './fixtures';

const OUT = path.resolve(__dirname, '..', '..', 'src', 'img', 'screenshots');
const INCIDENT_ROW = 'data-testid incidents-row';

for (const theme of ['light', 'dark'] as const) {
  test.describe(`${theme} theme`, () => {
    test.use({ theme, role: 'Admin', viewport: { width: 1440, height: 900 } });

    for (const name of Object.keys(PAGES) as PageName[]) {
      test(`${name}`, async ({ page }) => {
        await openPage(page, name);
        if (name === 'incidents') {
          test.setTimeout(180_000);
          // The stack's alert, live from Prometheus; once it fires, the stack's real
          // Alertmanager posts it to the intake route and it opens an incident.
          await expect(page.getByTestId('data-testid incidents-alert-row').first()).toContainText('Firing', {
            timeout: 120_000,
          });
          await expect(page.getByTestId(INCIDENT_ROW).first()).toContainText('Open', { timeout: 120_000 });
        }
        if (name === 'panel-menu') {
          await page.getByRole('button', { name: /Menu for panel/ }).click();
          await expect(page.getByRole('menu')).toBeVisible();
        }
        await page.mouse.move(0, 0);
        await page.screenshot({ path: path.join(OUT, `${name}-${theme}.png`), animations: 'disabled' });
      });
    }

    test('configuration: the advanced direct URL and the Grafana token', async ({ page }) => {
      await openPage(page, 'configuration');
      // Alertmanager switched to its direct URL (not saved), with the Grafana token below it.
      const group = page.getByRole('radiogroup', { name: 'Alertmanager: connect through' });
      await group.getByRole('radio', { name: 'Direct URL' }).click();
      await expect(
        page.getByRole('group', { name: 'Alertmanager' }).getByRole('textbox', { name: /^URL/ })
      ).toBeVisible();
      await page.getByRole('group', { name: 'Alertmanager' }).evaluate((el) => el.scrollIntoView({ block: 'start' }));
      await expect(page.getByTestId('data-testid ac-grafana-token')).toBeInViewport();
      await page.mouse.move(0, 0);
      await page.screenshot({ path: path.join(OUT, `configuration-advanced-${theme}.png`), animations: 'disabled' });
    });

    test('incident-drawer', async ({ page }) => {
      test.setTimeout(240_000);
      await openPage(page, 'incidents');
      // The incident the stack's Alertmanager opened, with its alerts.
      const row = page.getByTestId(INCIDENT_ROW).first();
      await expect(row).toContainText('Open', { timeout: 200_000 });
      await row.getByRole('button').first().click();
      await expect(page.getByTestId('data-testid incidents-drawer-alert').first()).toBeVisible();
      await page.mouse.move(0, 0);
      await page.screenshot({ path: path.join(OUT, `incident-drawer-${theme}.png`), animations: 'disabled' });
    });

    test('incident-charts', async ({ page }) => {
      test.setTimeout(300_000);
      await openPage(page, 'incidents');
      const row = page.getByTestId(INCIDENT_ROW).first();
      await expect(row).toContainText('Open', { timeout: 200_000 });
      await row.getByRole('button').first().click();
      // The worker's first capture comes at once; its series are charted.
      const charts = page.getByTestId('data-testid incidents-evidence-charts');
      await expect(charts.getByTestId('preview stand-in panel').first().locator('canvas').first()).toBeVisible({
        timeout: 120_000,
      });
      await charts.scrollIntoViewIfNeeded();
      await page.mouse.move(0, 0);
      await page.screenshot({ path: path.join(OUT, `incident-charts-${theme}.png`), animations: 'disabled' });
    });
  });
}
