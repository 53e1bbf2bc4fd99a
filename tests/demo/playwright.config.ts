/*
 * The newcomer's first run, in a browser: tests/demo/demo.spec.ts starts
 * `meshwatch demo` itself (from an empty data directory), follows the fault
 * through the product and stops it with SIGINT and SIGTERM.
 *   npm run build && npm run preview:build     # the pages (the demo would build them itself)
 *   npm run e2e:demo                           # = npx playwright test -c tests/demo/playwright.config.ts
 * Part of mage check (its Demo step, after the preview suite): about five
 * minutes, mostly two starts of the stack with six hours of history.
 */
import { defineConfig } from '@playwright/test';

const chromium = process.env.PREVIEW_CHROMIUM ?? '/usr/bin/chromium';

export default defineConfig({
  testDir: '.',
  testMatch: /.*\.spec\.ts$/,
  outputDir: '../../test-results/demo',
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: 0,
  timeout: 20 * 60_000,
  expect: { timeout: 15_000 },
  reporter: [['list']],
  use: {
    viewport: { width: 1440, height: 900 },
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: chromium,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-quic',
        '--no-first-run',
      ],
    },
  },
  projects: [{ name: 'demo' }],
});
