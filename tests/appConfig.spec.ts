import { test, expect } from './fixtures';

// Runs against a real Grafana (docker compose up); CI runs the preview-host suite in tests/preview instead.
test('an admin saves the configuration and tests it', async ({ appConfigPage, page }) => {
  await page.getByLabel('URL').first().fill('http://prometheus:9090');
  const saveResponse = appConfigPage.waitForSettingsResponse();
  await page.getByRole('button', { name: /save settings/i }).click();
  await expect(saveResponse).toBeOK();

  await page.getByRole('button', { name: /^test$/i }).click();
  await expect(page.getByText(/Prometheus/).first()).toBeVisible();
});
