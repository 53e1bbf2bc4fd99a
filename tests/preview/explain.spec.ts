/*
 * "Explain this panel", end to end on the preview stack: the host's
 * dashboard-panel stand-in (/preview/panel) lists the real link in its menu
 * (Extensions), called with the context Grafana builds for a panel; the link
 * opens its modal through openModal; the modal shows MeshWatch's own summary
 * of the panel's series at once, then the plugin's backend asks "Ollama" —
 * the stack's contract fake (contractfake.PanelEcho: no model runs here; it
 * answers from the request itself: a notable point citing the first series,
 * an uncited cause, one next query) — and the write-up streams in.
 *
 * Cases (/preview/panel?case=…): a panel with data, one Grafana has not run
 * yet (no data in the context: the backend re-runs its query against the
 * stack's real Prometheus), one whose query matches nothing, an oversized
 * one (300 series), a text panel (no link), and the stack with Ollama down.
 * Screenshots go to test-results/explain-screenshots/ (MESHWATCH_SCREENSHOTS=1: to
 * src/img/screenshots/explain-*.png, the README's copies).
 */
import path from 'node:path';
import { type Page } from '@playwright/test';
import { VIZ_LEGEND_LABEL, expectNoSeriousAxeViolations } from './a11y';
import { expect, PLUGIN_ID, previewURL, ROLES, settle, test } from './fixtures';

const OUT = process.env.MESHWATCH_SCREENSHOTS
  ? path.resolve(__dirname, '..', '..', 'src', 'img', 'screenshots')
  : path.resolve(__dirname, '..', '..', 'test-results', 'explain-screenshots');
const TITLE = 'Explain this panel';
const T = {
  modal: 'data-testid explain-modal',
  summary: 'data-testid explain-summary',
  row: 'data-testid explain-summary-row',
  omitted: 'data-testid explain-omitted',
  noData: 'data-testid explain-no-data',
  writeUp: 'data-testid explain-write-up',
  streaming: 'data-testid explain-streaming',
  answer: 'data-testid explain-answer',
  unavailable: 'data-testid explain-unavailable',
  notable: 'data-testid explain-notable',
  cause: 'data-testid explain-cause',
  uncited: 'data-testid explain-uncited',
  chip: 'data-testid explain-series-chip',
  nextQuery: 'data-testid explain-next-query',
  explore: 'data-testid explain-explore',
};
const as = (role: string) => ({ headers: { 'X-Preview-Role': role } });

async function openPanel(page: Page, which: string) {
  await page.goto(`/preview/panel?case=${which}`);
  await settle(page);
  const panel = page.getByTestId('preview panel');
  await expect(panel).toHaveAttribute('data-plugin-loaded', 'true');
  await expect(panel).toHaveAttribute('data-panel-case', which);
}

async function openMenu(page: Page) {
  await page.getByRole('button', { name: /Menu for panel/ }).click();
  const menu = page.getByRole('menu');
  await expect(menu.getByText('Extensions', { exact: true })).toBeVisible();
  return menu;
}

/** Opens the panel's menu, clicks Explain and returns the modal. */
async function explain(page: Page, which: string) {
  await openPanel(page, which);
  const menu = await openMenu(page);
  await menu.getByRole('menuitem', { name: new RegExp(TITLE) }).click();
  const dialog = page.getByRole('dialog');
  await expect(dialog).toBeVisible();
  await expect(dialog.getByTestId(T.modal)).toBeVisible();
  return dialog;
}

async function shot(page: Page, name: string) {
  await page.mouse.move(0, 0);
  await page.screenshot({ path: path.join(OUT, `explain-${name}.png`), animations: 'disabled' });
}

test.describe('Explain this panel', () => {
  test.describe.configure({ timeout: 240_000 });

  for (const role of ROLES) {
    test.describe(`as ${role === 'Viewer' ? 'a' : 'an'} ${role}`, () => {
      test.use({ role });

      test('the panel menu offers it; the summary shows at once and the write-up streams in', async ({ page }) => {
        const dialog = await explain(page, 'data');
        await expect(dialog).toContainText('Explain: Request rate by service');
        // MeshWatch's own summary, before any model: one row per series of the panel.
        const summary = dialog.getByTestId(T.summary);
        await expect(summary).toBeVisible({ timeout: 5_000 });
        await expect(summary.getByTestId(T.row)).toHaveCount(3);
        for (const svc of ['productpage', 'reviews', 'ratings']) {
          await expect(summary).toContainText(svc);
        }
        await expect(summary).toContainText('req/s');
        // The write-up arrives in pieces (the fake streams 24 bytes every 120 ms).
        const writeUp = dialog.getByTestId(T.writeUp);
        const streaming = writeUp.getByTestId(T.streaming);
        await expect(streaming).toBeVisible({ timeout: 120_000 });
        await expect(streaming).toContainText('Request rate by service shows 3 series', { timeout: 30_000 });
        if (role === 'Editor') {
          await shot(page, 'streaming');
        }
        const answer = writeUp.getByTestId(T.answer);
        await expect(answer).toBeVisible({ timeout: 60_000 });
        await expect(streaming).toHaveCount(0);
        // A notable point with the series it cites (s1, the first of the summary).
        const first = (await summary.getByTestId(T.row).first().getAttribute('data-series-id')) ?? '';
        expect(first).toBe('s1');
        const notable = answer.getByTestId(T.notable).first();
        await expect(notable.getByTestId(T.chip)).toContainText('s1');
        await expect(notable.getByTestId(T.uncited)).toHaveCount(0);
        // The cause that cites nothing is marked.
        await expect(answer.getByTestId(T.cause).first().getByTestId(T.uncited)).toBeVisible();
        // A next query that parses is a link to Explore on the panel's datasource.
        const link = answer.getByTestId(T.nextQuery).first().getByTestId(T.explore);
        await expect(link).toBeVisible();
        const href = decodeURIComponent((await link.getAttribute('href')) ?? '');
        expect(href).toMatch(/^\/explore\?/);
        expect(href).toContain('sum by (job)');
        if (role === 'Admin') {
          await shot(page, 'answer');
          // The modal passes axe (the stand-in panel's legend behind it is Grafana's; see a11y.ts).
          await expectNoSeriousAxeViolations(page, [VIZ_LEGEND_LABEL]);
        }
        await dialog.getByRole('button', { name: 'Close' }).click();
        await expect(dialog).toBeHidden();
      });
    });
  }

  test.describe('as a Viewer', () => {
    test.use({ role: 'Viewer' });

    test('a panel Grafana has not run yet: its query runs on the backend, then it is summarized', async ({ page }) => {
      const dialog = await explain(page, 'nodata');
      const summary = dialog.getByTestId(T.summary);
      await expect(summary).toBeVisible({ timeout: 60_000 });
      await expect(summary).toContainText('re-run just now');
      // The stack's real Prometheus answers the panel's request-rate query, per service,
      // named by the panel's legend format ({{destination_service_name}}), not by raw labels.
      await expect(summary.getByTestId(T.row).first()).toBeVisible();
      await expect(summary.getByTestId(T.row).first()).not.toContainText('destination_service_name=');
      await expect(dialog.getByTestId(T.answer)).toBeVisible({ timeout: 120_000 });
      await shot(page, 'rerun');
    });

    test('a panel whose query matches nothing says there is no data, and asks no model', async ({ page }) => {
      const dialog = await explain(page, 'empty');
      await expect(dialog.getByTestId(T.noData)).toContainText('No data to explain', { timeout: 60_000 });
      await expect(dialog.getByTestId(T.summary)).toHaveCount(0);
      await expect(dialog.getByTestId(T.writeUp)).toHaveCount(0);
    });

    test('a text panel is not offered the link', async ({ page }) => {
      await openPanel(page, 'text');
      const menu = await openMenu(page);
      await expect(menu.getByRole('menuitem', { name: 'No extensions' })).toBeVisible();
      await expect(menu.getByRole('menuitem', { name: new RegExp(TITLE) })).toHaveCount(0);
    });
  });

  test.describe('as an Editor', () => {
    test.use({ role: 'Editor' });

    test('an oversized panel: the most changed series are summarized and sent, the rest counted', async ({ page }) => {
      const requests: string[] = [];
      page.on('request', (r) => {
        if (r.method() === 'POST' && r.url().endsWith(`/api/plugins/${PLUGIN_ID}/resources/explain`)) {
          requests.push(r.postData() ?? '');
        }
      });
      const dialog = await explain(page, 'oversized');
      const summary = dialog.getByTestId(T.summary);
      await expect(summary).toBeVisible({ timeout: 10_000 });
      // The first 8 of the 20 summarized, the rest of them on demand; the other 280 counted.
      await expect(summary.getByTestId(T.row)).toHaveCount(8);
      await expect(summary.getByTestId(T.omitted)).toContainText('280 more series');
      // The pod that tripled, the one that leaks and the one that stopped reporting lead.
      const top = (await summary.getByTestId(T.row).allTextContents()).slice(0, 3).join('\n');
      for (const pod of ['checkout-017', 'checkout-203', 'checkout-111']) {
        expect(top).toContain(pod);
      }
      await expect(dialog.getByTestId(T.answer)).toBeVisible({ timeout: 120_000 });
      await expect(dialog.getByTestId(T.answer)).toContainText('shows 20 series');
      await shot(page, 'oversized');
      await summary.getByRole('button', { name: 'Show all 20 summarized series' }).click();
      await expect(summary.getByTestId(T.row)).toHaveCount(20);
      expect(requests).toHaveLength(1);
      const sent = JSON.parse(requests[0]);
      expect(sent.series).toHaveLength(20);
      expect(sent.omittedSeries).toBe(280);
      expect(requests[0].length).toBeLessThan(64 << 10);
    });
  });

  test.describe('as an Admin', () => {
    test.use({ role: 'Admin' });

    test('with Ollama down, the summary stands and the modal says why there is no write-up; once it is back, asking again brings it', async ({
      page,
      playwright,
    }) => {
      const api = await playwright.request.newContext({ baseURL: previewURL() });
      const settingsURL = `/api/plugins/${PLUGIN_ID}/settings`;
      const before = await (await api.get(settingsURL, as('Admin'))).json();
      try {
        // Point the LLM at a loopback port nothing listens on.
        const jsonData = { ...before.jsonData, ollama: { ...before.jsonData.ollama, url: 'http://127.0.0.1:9' } };
        const saved = await api.post(settingsURL, {
          ...as('Admin'),
          data: { enabled: before.enabled, pinned: before.pinned, jsonData },
        });
        expect(saved.ok()).toBe(true);
        const dialog = await explain(page, 'data');
        await expect(dialog.getByTestId(T.summary).getByTestId(T.row)).toHaveCount(3);
        const unavailable = dialog.getByTestId(T.unavailable);
        await expect(unavailable).toBeVisible({ timeout: 90_000 });
        await expect(unavailable).toContainText(/Ollama|model/);
        await expect(unavailable).toContainText('The summary above is MeshWatch’s own');
        await expect(dialog.getByTestId(T.answer)).toHaveCount(0);
        await shot(page, 'no-ollama');
        // Ollama back: asking again from the same modal brings the write-up.
        const restored = await api.post(settingsURL, {
          ...as('Admin'),
          data: { enabled: before.enabled, pinned: before.pinned, jsonData: before.jsonData },
        });
        expect(restored.ok()).toBe(true);
        await unavailable.getByRole('button', { name: 'Ask again' }).click();
        await expect(dialog.getByTestId(T.answer)).toBeVisible({ timeout: 120_000 });
        await expect(dialog.getByTestId(T.unavailable)).toHaveCount(0);
      } finally {
        await api.post(settingsURL, {
          ...as('Admin'),
          data: { enabled: before.enabled, pinned: before.pinned, jsonData: before.jsonData },
        });
        await api.dispose();
      }
    });
  });
});
