/*
 * Browser tests of MeshWatch's pages on the preview host (not Grafana):
 * the built plugin (dist/) on its real backend binary, in Debian's Chromium.
 *   npm run preview:build && npm run build && go build -o dist/gpx_mesh_linux_amd64 ./pkg
 *   npm run e2e:preview      # the suite
 *   npm run screenshots      # src/img/screenshots/<page>-<theme>.png
 * globalSetup checks that everything is built (it builds nothing but the
 * small Go server entry), starts the preview server on a random loopback
 * port and stops it afterwards.
 */
import { defineConfig } from '@playwright/test';

const chromium = process.env.PREVIEW_CHROMIUM ?? '/usr/bin/chromium';

export default defineConfig({
  testDir: '.',
  testMatch: /.*\.spec\.ts$/,
  globalSetup: './globalSetup.ts',
  outputDir: '../../test-results/preview',
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 15_000 },
  reporter: process.env.CI
    ? [['list']]
    : [['list'], ['html', { outputFolder: '../../playwright-report/preview', open: 'never' }]],
  use: {
    // Set by globalSetup; workers load this file after it ran.
    baseURL: process.env.PREVIEW_URL,
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
  projects: [
    { name: 'preview', testIgnore: /screenshots\.spec\.ts$/ },
    { name: 'screenshots', testMatch: /screenshots\.spec\.ts$/ },
  ],
});
