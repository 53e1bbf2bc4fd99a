/*
 * The configuration page on the real backend: Test shows one line per
 * dependency, Save persists (across a reload, through the preview host's
 * settings file) and secrets come back only as "configured".
 */
import { PLUGIN_ID, expect, openPage, settle, test } from './fixtures';

const HEALTH_LINE = 'data-testid ac-health-line';

test.use({ role: 'Admin' });

test('Test shows a line for each dependency', async ({ page, problems }) => {
  // Every upstream is a closed loopback port, so CheckHealth fails and the
  // health endpoint answers 503, as Grafana does; the page shows the report.
  problems.allow(/HTTP 503: GET \/api\/plugins\/meshwatch-mesh-app\/health/, /status of 503/);
  await openPage(page, 'configuration');
  const health = page.waitForResponse((r) => r.url().endsWith(`/api/plugins/${PLUGIN_ID}/health`));
  await page.getByRole('button', { name: 'Test' }).click();
  const body = await (await health).json();
  const names: string[] = body.details.results.map((r: { name: string }) => r.name);
  expect(names).toEqual(expect.arrayContaining(['Prometheus', 'Loki', 'Tempo', 'Alertmanager', 'Ollama', 'Storage']));
  const lines = page.getByTestId(HEALTH_LINE);
  await expect(lines).toHaveCount(names.length);
  for (const name of names) {
    await expect(lines.filter({ hasText: name }).first()).toBeVisible();
  }
  await expect(lines.filter({ hasText: 'Prometheus' }).first()).toContainText(
    process.env.PREVIEW_UPSTREAM ?? '127.0.0.1'
  );
});

test('Save persists the settings across a reload; secrets only as configured', async ({ page }) => {
  const newUrl = 'http://127.0.0.1:19090';
  const token = 'preview-e2e-secret-token';
  await openPage(page, 'configuration');
  const prometheus = page.getByRole('group', { name: /Prometheus/ });
  await prometheus.getByLabel('URL').fill(newUrl);
  await prometheus.getByLabel('Authorization').fill(token);
  const saved = page.waitForResponse(
    (r) => r.url().endsWith(`/api/plugins/${PLUGIN_ID}/settings`) && r.request().method() === 'POST'
  );
  await page.getByRole('button', { name: 'Save settings' }).click();
  expect((await saved).status()).toBe(200);

  await page.reload();
  await settle(page);
  const after = page.getByRole('group', { name: /Prometheus/ });
  await expect(after.getByLabel('URL')).toHaveValue(newUrl);
  await expect(after.getByRole('button', { name: 'Reset' })).toBeVisible();

  const res = await page.request.get(`/api/plugins/${PLUGIN_ID}/settings`);
  const text = await res.text();
  expect(text).not.toContain(token);
  const dto = JSON.parse(text);
  expect(dto.jsonData.prometheus.url).toBe(newUrl);
  expect(dto.secureJsonFields.prometheusAuth).toBe(true);

  // The backend instance was rebuilt with the saved settings.
  const settings = await (await page.request.get(`/api/plugins/${PLUGIN_ID}/resources/settings`)).json();
  expect(JSON.stringify(settings)).toContain(newUrl);
  expect(JSON.stringify(settings)).not.toContain(token);
});
