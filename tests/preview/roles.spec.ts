/*
 * What each role may do. Grafana shows an app's configuration only to users
 * with plugins:write (Admin) and refuses the settings POST to anyone else;
 * the preview host does the same, and the plugin's pages must not offer a
 * Viewer any mutating control.
 */
import { PAGES, PLUGIN_ID, type PageName, expect, openPage, test } from './fixtures';

const MUTATING = /save|approve|reject|promote|roll ?back|delete|remove|disable|enable|reset|sign.?off/i;

for (const role of ['Viewer', 'Editor'] as const) {
  test.describe(`as ${role}`, () => {
    test.use({ role });

    test('no page offers a mutating control', async ({ page }) => {
      for (const name of Object.keys(PAGES) as PageName[]) {
        await openPage(page, name);
        const buttons = page.locator('main').getByRole('button', { name: MUTATING });
        const enabled = await buttons.evaluateAll((els) =>
          els.filter((el) => !(el as HTMLButtonElement).disabled).map((el) => el.textContent)
        );
        expect(enabled, `${name}: mutating controls offered to a ${role}`).toEqual([]);
      }
    });

    test('the configuration page shows the overview only: no Save, no datasource picker, no setting', async ({
      page,
    }) => {
      await openPage(page, 'configuration');
      await expect(page.getByText('Configuration needs the Admin role')).toBeVisible();
      await expect(page.getByRole('button', { name: /save/i })).toHaveCount(0);
      await expect(page.getByRole('tab', { name: 'Configuration' })).toHaveCount(0);
      await expect(page.getByTestId(/^data-testid ac-/)).toHaveCount(0);
      await expect(page.locator('main').getByRole('combobox')).toHaveCount(0);
      await expect(page.locator('main').getByRole('textbox')).toHaveCount(0);
    });

    test('the backend refuses the effective settings and their validation (Admin only)', async ({ page }) => {
      await openPage(page, 'incidents');
      const get = await page.request.get(`/api/plugins/${PLUGIN_ID}/resources/settings`);
      expect(get.status()).toBe(403);
      const body = await get.json();
      expect(body.error).toBe('permission denied');
      expect(body.detail).toContain('Admin');
      expect(JSON.stringify(body)).not.toContain('prometheus');
      const validate = await page.request.post(`/api/plugins/${PLUGIN_ID}/resources/settings/validate`, {
        data: { jsonData: {} },
      });
      expect(validate.status()).toBe(403);
    });

    test('saving settings is refused with 403, as Grafana does', async ({ page }) => {
      await openPage(page, 'incidents');
      const before = await (await page.request.get(`/api/plugins/${PLUGIN_ID}/settings`)).json();
      // Neither a direct URL nor another datasource, nor a Grafana token for the proxy.
      for (const data of [
        { enabled: true, pinned: true, jsonData: { prometheus: { url: 'http://127.0.0.1:1' } } },
        {
          enabled: true,
          pinned: true,
          jsonData: { ...before.jsonData, prometheus: { datasourceUid: 'loki' } },
          secureJsonData: { grafanaToken: 'glsa_not-yours' },
        },
      ]) {
        const res = await page.request.post(`/api/plugins/${PLUGIN_ID}/settings`, { data });
        expect(res.status()).toBe(403);
        expect((await res.json()).message).toContain('plugins:write');
      }
      const after = await (await page.request.get(`/api/plugins/${PLUGIN_ID}/settings`)).json();
      expect(after.jsonData).toEqual(before.jsonData);
      expect(after.jsonData.prometheus.datasourceUid).toBe('prometheus');
      expect(after.secureJsonFields?.grafanaToken ?? false).toBe(false);
    });
  });
}

test.describe('as Admin', () => {
  test.use({ role: 'Admin' });

  test('the configuration page offers Save and Test', async ({ page }) => {
    await openPage(page, 'configuration');
    await expect(page.getByRole('tab', { name: 'Configuration' })).toBeVisible();
    await expect(page.getByRole('button', { name: 'Save settings' })).toBeEnabled();
    await expect(page.getByRole('button', { name: 'Test' })).toBeEnabled();
  });
});

test('the role switch signs the page in as another role', async ({ page }) => {
  await openPage(page, 'incidents');
  await page.getByRole('group', { name: 'Signed-in role' }).getByRole('radio', { name: 'Viewer' }).click();
  await expect(
    page.getByRole('group', { name: 'Signed-in role' }).getByRole('radio', { name: 'Viewer' })
  ).toBeChecked();
  await expect(page.getByText('Vera Viewer as')).toBeVisible();
  await expect(
    page.getByRole('navigation', { name: 'MeshWatch' }).getByRole('link', { name: 'Configuration' })
  ).toHaveCount(0);
  const res = await page.request.post(`/api/plugins/${PLUGIN_ID}/settings`, { data: { enabled: true } });
  expect(res.status()).toBe(403);
});

test('the health endpoint answers like Grafana for every role', async ({ playwright }) => {
  // The main host has the --stack servers behind it (the check passes); the
  // fixture host's upstreams are closed ports (it fails, answered 503).
  const hosts = [
    { baseURL: process.env.PREVIEW_URL, status: 200, body: 'OK' },
    { baseURL: process.env.PREVIEW_FIXTURE_URL, status: 503, body: 'ERROR' },
  ];
  for (const host of hosts) {
    for (const role of ['Viewer', 'Editor', 'Admin']) {
      const api = await playwright.request.newContext({
        baseURL: host.baseURL,
        extraHTTPHeaders: { 'X-Preview-Role': role },
      });
      const health = await api.get(`/api/plugins/${PLUGIN_ID}/health`);
      expect(health.status(), `${host.baseURL} as ${role}`).toBe(host.status);
      const body = await health.json();
      expect(body.status).toBe(host.body);
      expect(body.details.results.length).toBeGreaterThan(0);
      await api.dispose();
    }
  }
});
