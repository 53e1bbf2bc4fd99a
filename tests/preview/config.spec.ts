/*
 * The configuration page on the real backend, with the --stack servers
 * behind it: Test shows one line per dependency (OK with each real server's
 * version); as Admin, a Grafana datasource picked for each of Prometheus,
 * Loki, Tempo and Alertmanager is saved as its uid and Test reaches each
 * through the host's datasource proxy; Save persists (across a reload,
 * through the preview host's settings file), secrets come back only as
 * "configured", and a Prometheus that is down at a direct URL shows as a
 * failing line and on the Incidents page.
 */
import { type APIRequestContext } from '@playwright/test';
import { type Page } from '@playwright/test';
import { PLUGIN_ID, expect, openPage, previewURL, settle, test } from './fixtures';

const HEALTH_LINE = 'data-testid ac-health-line';

type HealthResult = { name: string; status: string; version?: string; target: string; message: string };
type Settings = { enabled: boolean; pinned: boolean; jsonData: Record<string, Record<string, unknown>> };

/** The four telemetry endpoints: settings key, health line / fieldset name, and the stack's datasource. */
const TELEMETRY = [
  { key: 'prometheus', name: 'Prometheus', legend: 'Prometheus (required)', option: 'Prometheus (default)' },
  { key: 'loki', name: 'Loki', legend: 'Loki', option: 'Loki' },
  { key: 'tempo', name: 'Tempo', legend: 'Tempo', option: 'Tempo' },
  { key: 'alertmanager', name: 'Alertmanager', legend: 'Alertmanager', option: 'Alertmanager' },
] as const;

/** What a healthy line reached through Grafana's datasource proxy says (pkg/systems/internal/endpoint.ProxyNote). */
const VIA_PROXY = "through Grafana's datasource proxy with the plugin's managed service account";

/** An endpoint's "Connect through" choice: Grafana datasource or Direct URL. */
function connectThrough(page: Page, legend: string) {
  return page.getByRole('radiogroup', { name: `${legend}: connect through` });
}

async function choose(page: Page, legend: string, mode: 'Grafana datasource' | 'Direct URL') {
  const radio = connectThrough(page, legend).getByRole('radio', { name: mode });
  await radio.click();
  await expect(radio).toBeChecked();
}

test.use({ role: 'Admin' });

async function currentSettings(request: APIRequestContext) {
  const res = await request.get(`/api/plugins/${PLUGIN_ID}/settings`);
  expect(res.status()).toBe(200);
  return (await res.json()) as Settings;
}

async function saveSettings(
  request: APIRequestContext,
  settings: Settings,
  secureJsonData: Record<string, string> = {}
) {
  const res = await request.post(`/api/plugins/${PLUGIN_ID}/settings`, {
    data: { enabled: settings.enabled, pinned: settings.pinned, jsonData: settings.jsonData, secureJsonData },
  });
  expect(res.status()).toBe(200);
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

test('as Admin, a Grafana datasource picked for each service is saved and Test reaches it through the datasource proxy', async ({
  page,
}) => {
  const original = await currentSettings(page.request);
  // The datasources the host plays (--stack's), with the real servers' URLs.
  const listed = (await (await page.request.get('/api/datasources')).json()) as Array<{
    uid: string;
    type: string;
    url: string;
  }>;
  const urlOf = (type: string) => listed.find((ds) => ds.type === type)!.url;
  // Start as before this version: every service at a direct URL (the same servers), no datasourceUid.
  const direct: Settings = { ...original, jsonData: { ...original.jsonData } };
  for (const t of TELEMETRY) {
    direct.jsonData[t.key] = { url: urlOf(t.key) };
  }
  await saveSettings(page.request, direct);
  try {
    await openPage(page, 'configuration');
    for (const t of TELEMETRY) {
      await expect(connectThrough(page, t.legend).getByRole('radio', { name: 'Direct URL' })).toBeChecked();
      await choose(page, t.legend, 'Grafana datasource');
      const field = page.getByTestId(`data-testid ac-${t.key}-datasource`);
      await expect(field).toContainText(`None picked: MeshWatch uses the direct URL ${urlOf(t.key)}`);
      await field.getByRole('combobox').click();
      // The picker lists the datasources of this type only.
      await expect(page.getByRole('option')).toHaveText([t.option]);
      await page.getByRole('option', { name: t.option }).click();
      await expect(field).toContainText(t.option.replace(' (default)', ''));
      await expect(field).toContainText("Grafana adds the datasource's own URL, auth, TLS and headers");
    }
    const saved = page.waitForResponse(
      (r) => r.url().endsWith(`/api/plugins/${PLUGIN_ID}/settings`) && r.request().method() === 'POST'
    );
    await page.getByRole('button', { name: 'Save settings' }).click();
    expect((await saved).status()).toBe(200);

    await page.reload();
    await settle(page);
    const after = await currentSettings(page.request);
    for (const t of TELEMETRY) {
      await expect(connectThrough(page, t.legend).getByRole('radio', { name: 'Grafana datasource' })).toBeChecked();
      await expect(page.getByTestId(`data-testid ac-${t.key}-datasource`)).toContainText(t.name);
      // The uid is saved; picking a datasource clears nothing (the direct URL stays, unused).
      expect(after.jsonData[t.key]).toEqual({ datasourceUid: t.key, url: urlOf(t.key) });
    }

    const health = page.waitForResponse((r) => r.url().endsWith(`/api/plugins/${PLUGIN_ID}/health`));
    await page.getByRole('button', { name: 'Test' }).click();
    const res = await health;
    expect(res.status()).toBe(200);
    const results: HealthResult[] = (await res.json()).details.results;
    const lines = page.getByTestId(HEALTH_LINE);
    for (const t of TELEMETRY) {
      const r = results.find((x) => x.name === t.name);
      expect(r, JSON.stringify(results)).toBeDefined();
      expect(r!.status, r!.message).toBe('ok');
      expect(r!.target).toBe(`datasource ${t.key} via Grafana (${previewURL()})`);
      expect(r!.message).toContain(VIA_PROXY);
      const line = lines.filter({ hasText: t.name }).first();
      await expect(line.getByLabel('OK')).toBeVisible();
      await expect(line).toContainText(`datasource ${t.key} via Grafana`);
      await expect(line).toContainText(VIA_PROXY);
    }
    // The real servers answered through the proxy (.ci/install-tools.sh pins them).
    expect(results.find((r) => r.name === 'Prometheus')!.version).toMatch(/^3\./);
    expect(results.find((r) => r.name === 'Alertmanager')!.version).toMatch(/^0\./);
  } finally {
    await saveSettings(page.request, original);
  }
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
    // Provisioning picks the Prometheus datasource; the advanced option is a direct URL.
    await choose(page, 'Prometheus (required)', 'Direct URL');
    const prometheus = page.getByRole('group', { name: /Prometheus/ });
    await prometheus.getByRole('textbox', { name: /^URL/ }).fill(downUrl);
    await prometheus.getByLabel('Authorization').fill(token);
    const saved = page.waitForResponse(
      (r) => r.url().endsWith(`/api/plugins/${PLUGIN_ID}/settings`) && r.request().method() === 'POST'
    );
    await page.getByRole('button', { name: 'Save settings' }).click();
    expect((await saved).status()).toBe(200);

    await page.reload();
    await settle(page);
    await expect(
      connectThrough(page, 'Prometheus (required)').getByRole('radio', { name: 'Direct URL' })
    ).toBeChecked();
    const after = page.getByRole('group', { name: /Prometheus/ });
    await expect(after.getByRole('textbox', { name: /^URL/ })).toHaveValue(downUrl);
    await expect(after.getByRole('button', { name: 'Reset' })).toBeVisible();

    const res = await page.request.get(`/api/plugins/${PLUGIN_ID}/settings`);
    const text = await res.text();
    expect(text).not.toContain(token);
    const dto = JSON.parse(text);
    expect(dto.jsonData.prometheus.url).toBe(downUrl);
    // Choosing the direct URL cleared the datasource.
    expect(dto.jsonData.prometheus.datasourceUid).toBeUndefined();
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

test('switching the LLM off: saved as ollama.disabled, Test shows the Ollama line disabled, on again restores it', async ({
  page,
}) => {
  const original = await currentSettings(page.request);
  try {
    await openPage(page, 'configuration');
    const enabled = page.locator('#ollama-enabled');
    await expect(enabled).toBeChecked();
    await enabled.click({ force: true }); // Grafana's Switch draws its own box over the input
    await expect(enabled).not.toBeChecked();
    const saved = page.waitForResponse(
      (r) => r.url().endsWith(`/api/plugins/${PLUGIN_ID}/settings`) && r.request().method() === 'POST'
    );
    await page.getByRole('button', { name: 'Save settings' }).click();
    expect((await saved).status()).toBe(200);
    expect((await currentSettings(page.request)).jsonData.ollama?.disabled).toBe(true);

    await page.reload();
    await settle(page);
    await expect(page.locator('#ollama-enabled')).not.toBeChecked();
    await page.getByRole('button', { name: 'Test' }).click();
    const line = page.getByTestId(HEALTH_LINE).filter({ hasText: 'Ollama' }).first();
    await expect(line.getByLabel('Disabled')).toBeVisible();
    await expect(line).toContainText('ollama.disabled');
    await line.scrollIntoViewIfNeeded();
    await page.screenshot({ path: test.info().outputPath('config-llm-off.png') });
  } finally {
    await saveSettings(page.request, original);
  }
  expect((await currentSettings(page.request)).jsonData.ollama?.disabled).toBeUndefined();
});
