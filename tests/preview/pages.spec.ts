/*
 * Every page, as each role: it loads with no uncaught error, console error or
 * failed request (the fixture checks), shows the preview banner and the nav
 * the role should see, passes axe (no serious or critical violation), and
 * Tab reaches every control.
 */
import { VIZ_LEGEND_LABEL, expectNoSeriousAxeViolations, expectTabReachesEveryControl } from './a11y';
import { PAGES, type PageName, ROLES, expect, openPage, test } from './fixtures';

for (const role of ROLES) {
  test.describe(`as ${role}`, () => {
    test.use({ role });

    for (const name of Object.keys(PAGES) as PageName[]) {
      test(`${name} loads cleanly, passes axe and is keyboard-reachable`, async ({ page }) => {
        await openPage(page, name);
        await expect(
          page.getByRole('group', { name: 'Signed-in role' }).getByRole('radio', { name: role })
        ).toBeChecked();
        const nav = page.getByRole('navigation', { name: 'MeshWatch' });
        await expect(nav.getByRole('link', { name: 'Incidents' })).toBeVisible();
        await expect(nav.getByRole('link', { name: 'Canaries' })).toBeVisible();
        // plugin.json gives the Configuration page role Admin.
        await expect(nav.getByRole('link', { name: 'Configuration' })).toHaveCount(role === 'Admin' ? 1 : 0);
        await expectNoSeriousAxeViolations(page, name === 'panel-menu' ? [VIZ_LEGEND_LABEL] : []);
        await expectTabReachesEveryControl(page);
      });
    }
  });
}

test('the app root goes to its default page', async ({ page }) => {
  await page.goto('/a/meshwatch-mesh-app');
  await expect(page).toHaveURL(/\/a\/meshwatch-mesh-app\/incidents$/);
  await expect(page.getByRole('heading', { level: 1, name: 'Incidents' })).toBeVisible();
});

test('nav links move between the pages without a reload', async ({ page }) => {
  await openPage(page, 'incidents');
  const nav = page.getByRole('navigation', { name: 'MeshWatch' });
  await nav.getByRole('link', { name: 'Canaries' }).click();
  await expect(page).toHaveURL(/\/canaries$/);
  await expect(page.getByRole('heading', { level: 1, name: 'Canaries' })).toBeVisible();
  await nav.getByRole('link', { name: 'Configuration' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'MeshWatch' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Test' })).toBeVisible();
});

test('the theme switch re-renders the page in the light theme and remembers it', async ({ page }) => {
  await openPage(page, 'incidents');
  const dark = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  await page.getByRole('group', { name: 'Theme' }).getByRole('radio', { name: 'Light' }).click();
  await expect.poll(() => page.evaluate(() => getComputedStyle(document.body).backgroundColor)).not.toBe(dark);
  await page.reload();
  await expect(page.getByRole('group', { name: 'Theme' }).getByRole('radio', { name: 'Light' })).toBeChecked();
});

test('the host index lists every page and says what it is', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { level: 1, name: /in the preview host/ })).toBeVisible();
  const main = page.getByRole('main');
  for (const name of ['Incidents', 'Canaries', 'Configuration', 'Dashboard panel menu (stand-in)']) {
    await expect(main.getByRole('link', { name })).toBeVisible();
  }
  await expect(main).toContainText('not Grafana');
  await expectNoSeriousAxeViolations(page);
});
