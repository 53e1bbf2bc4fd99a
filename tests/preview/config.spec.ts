/*
 * The configuration page on the real backend, with the --stack servers
 * behind it: Test shows one line per dependency (OK with each real server's
 * version), Save persists (across a reload, through the preview host's
 * settings file), secrets come back only as "configured", and a Prometheus
 * that is down shows as a failing line and on the Incidents page.
 */
import { type APIRequestContext } from '@playwright/test';
import { PLUGIN_ID, expect, openPage, settle, test } from './fixtures';

const HEALTH_LINE = 'data-testid ac-health-line';

type HealthResult = { name: string; status: string; version?: string; target: string };

test.use({ role: 'Admin' });

async function currentSettings(request: APIRequestContext) {
  const res = await request.get(`/api/plugins/${PLUGIN_ID}/settings`);
  expect(res.status()).toBe(200);
  return (await res.json()) as { enabled: boolean; pinned: boolean; jsonData: Record<string, unknown> };
}

test('Test shows a line for each dependency, OK against the real servers', async ({ page }) => {
  await openPage(page, 'configuration');
  const health = page.waitForResponse((r) => r.url().endsWith(`/api/plugins/${PLUGIN_ID}/health`));
  await page.getByRole('button', { name: 'Test' }).click();
  const res = await health;
  const body = await res.json();
  const results: HealthResult[] = body.details.results;
  const byName = Object.fromEntries(results.map((r) => [r.name, r]));
  for (const name of ['Prometheus', 'Loki', 'Tempo', 'Alertmanager', 'Ollama', 'Storage']) {
    expect(byName[name]?.status, `${name}: ${JSON.stringify(byName[name])}`).toBe('ok');
  }
  expect(res.status()).toBe(200);
  // The real servers' versions (.ci/install-tools.sh pins them); Tempo and
  // Ollama are contract fakes reporting the versions deploy/ runs.
  expect(byName.Prometheus.version).toMatch(/^3\./);
  expect(byName.Alertmanager.version).toMatch(/^0\./);
  expect(byName.Loki.version).toMatch(/^v?3\./);

  const lines = page.getByTestId(HEALTH_LINE);
  await expect(lines).toHaveCount(results.length);
  for (const r of results) {
    await expect(lines.filter({ hasText: r.name }).first()).toBeVisible();
  }
  await expect(lines.filter({ hasText: 'Prometheus' }).first()).toContainText(byName.Prometheus.version ?? '');
  await expect(lines.filter({ hasText: 'Prometheus' }).first().getByLabel('OK')).toBeVisible();
});

test('Save persists the settings across a reload; secrets only as configured; a down Prometheus shows', async ({
  page,
  problems,
}) => {
  // A Prometheus on a closed port fails the health check, which answers 503
  // as Grafana does; the page shows the report.
  problems.allow(/HTTP 503: GET \/api\/plugins\/meshwatch-mesh-app\/health/, /status of 503/);
  const original = await currentSettings(page.request);
  const downUrl = process.env.PREVIEW_UPSTREAM ?? 'http://127.0.0.1:9';
  const token = 'preview-e2e-secret-token';
  try {
    await openPage(page, 'configuration');
    const prometheus = page.getByRole('group', { name: /Prometheus/ });
    await prometheus.getByLabel('URL').fill(downUrl);
    await prometheus.getByLabel('Authorization').fill(token);
    const saved = page.waitForResponse(
      (r) => r.url().endsWith(`/api/plugins/${PLUGIN_ID}/settings`) && r.request().method() === 'POST'
    );
    await page.getByRole('button', { name: 'Save settings' }).click();
    expect((await saved).status()).toBe(200);

    await page.reload();
    await settle(page);
    const after = page.getByRole('group', { name: /Prometheus/ });
    await expect(after.getByLabel('URL')).toHaveValue(downUrl);
    await expect(after.getByRole('button', { name: 'Reset' })).toBeVisible();

    const res = await page.request.get(`/api/plugins/${PLUGIN_ID}/settings`);
    const text = await res.text();
    expect(text).not.toContain(token);
    const dto = JSON.parse(text);
    expect(dto.jsonData.prometheus.url).toBe(downUrl);
    expect(dto.secureJsonFields.prometheusAuth).toBe(true);

    // The backend instance was rebuilt with the saved settings.
    const settings = await (await page.request.get(`/api/plugins/${PLUGIN_ID}/resources/settings`)).json();
    expect(JSON.stringify(settings)).toContain(downUrl);
    expect(JSON.stringify(settings)).not.toContain(token);

    // Test names the failing dependency and where it was looked for.
    await page.getByRole('button', { name: 'Test' }).click();
    const line = page.getByTestId(HEALTH_LINE).filter({ hasText: 'Prometheus' }).first();
    await expect(line).toContainText(downUrl.replace(/^http:\/\//, ''));
    await expect(line.getByLabel('Failing')).toBeVisible();

    // The Incidents page's live alerts say Prometheus cannot be reached.
    await openPage(page, 'incidents');
    await expect(page.getByTestId('data-testid incidents-alerts-notice')).toContainText(
      downUrl.replace(/^http:\/\//, '')
    );
    await expect(page.getByText(token)).toHaveCount(0);
  } finally {
    // Later tests run against the stack again.
    const restored = await page.request.post(`/api/plugins/${PLUGIN_ID}/settings`, {
      data: { ...original, secureJsonData: { prometheusAuth: '' } },
    });
    expect(restored.status()).toBe(200);
  }
});
