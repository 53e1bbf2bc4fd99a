/*
 * Test fixtures for the preview host suite: a page signed in as a role, that
 * fails the test on any uncaught error, console error or failed request
 * (unless the test expects it, e.g. the 503 a failing health check answers).
 */
import { type Page, test as base, expect } from '@playwright/test';

export type Role = 'Viewer' | 'Editor' | 'Admin';
export const ROLES: Role[] = ['Viewer', 'Editor', 'Admin'];
export const PLUGIN_ID = 'meshwatch-mesh-app';

/** Every page the plugin ships, and the host's panel-menu stand-in. */
export const PAGES = {
  incidents: `/a/${PLUGIN_ID}/incidents`,
  canaries: `/a/${PLUGIN_ID}/canaries`,
  configuration: `/plugins/${PLUGIN_ID}`,
  'panel-menu': '/preview/panel',
} as const;
export type PageName = keyof typeof PAGES;

export function previewURL(): string {
  const url = process.env.PREVIEW_URL;
  if (!url) {
    throw new Error('PREVIEW_URL is not set: run the suite with -c tests/preview/playwright.config.ts');
  }
  return url;
}

interface Problems {
  /** Patterns of problems this test expects (matched against the recorded line). */
  allow: (...patterns: RegExp[]) => void;
  list: string[];
}

type Fixtures = {
  role: Role;
  theme: 'light' | 'dark';
  problems: Problems;
};

export const test = base.extend<Fixtures>({
  role: ['Admin', { option: true }],
  theme: ['dark', { option: true }],
  context: async ({ context, role, theme }, use) => {
    const url = previewURL();
    await context.addCookies([
      { name: 'meshwatch_preview_role', value: role, url },
      { name: 'meshwatch_preview_theme', value: theme, url },
    ]);
    await use(context);
  },
  problems: [
    async ({ page }, use) => {
      const list: string[] = [];
      const allowed: RegExp[] = [];
      page.on('pageerror', (e) => list.push(`uncaught: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error') {
          list.push(`console error: ${m.text()}`);
        }
      });
      page.on('requestfailed', (r) => {
        // Leaving a page cancels its pending requests; that is not a failure.
        if (r.failure()?.errorText !== 'net::ERR_ABORTED') {
          list.push(`request failed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`);
        }
      });
      page.on('response', (r) => {
        if (r.status() >= 400) {
          list.push(`HTTP ${r.status()}: ${r.request().method()} ${new URL(r.url()).pathname}`);
        }
      });
      await use({ allow: (...p) => allowed.push(...p), list });
      const unexpected = list.filter((line) => !allowed.some((p) => p.test(line)));
      expect(unexpected, 'errors, console errors and failed requests on the page').toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };

/** Opens a page and waits until the plugin has rendered it (no spinner left). */
export async function openPage(page: Page, name: PageName) {
  await page.goto(PAGES[name]);
  await expect(page.getByTestId('preview banner')).toBeVisible();
  await expect(page.getByText('MeshWatch preview host — not Grafana')).toBeVisible();
  await settle(page);
}

export async function settle(page: Page) {
  await page.waitForLoadState('networkidle');
  await expect(page.getByTestId('Spinner')).toHaveCount(0);
  await expect(page.getByText(/^Loading plugin/)).toHaveCount(0);
}
