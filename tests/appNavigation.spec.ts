import { test, expect } from './fixtures';
import { ROUTES } from '../src/constants';

// Runs against a real Grafana (docker compose up); CI runs the preview-host suite in tests/preview instead.
test.describe('navigating the app', () => {
  test('the incidents page renders', async ({ gotoPage, page }) => {
    await gotoPage(`/${ROUTES.Incidents}`);
    await expect(page.getByRole('heading', { name: 'Alerts now' })).toBeVisible();
    await expect(page.getByText('No incidents yet')).toBeVisible();
  });

  test('the canaries page renders', async ({ gotoPage, page }) => {
    await gotoPage(`/${ROUTES.Canaries}`);
    await expect(page.getByText('No canaries', { exact: true })).toBeVisible();
  });
});
