/*
 * Sign-off on the preview host, on the plugin's real backend: who may
 * decide (the backend refuses Viewers with 403 whatever the page shows),
 * a gate decision recorded by an Editor, and the Audit page (Admin) with
 * the chain's verdict over it and the exports; screenshots per role.
 */
import { type Page } from '@playwright/test';
import { PLUGIN_ID, expect, settle, test } from './fixtures';

const AUDIT = `/a/${PLUGIN_ID}/audit`;
const RESOURCES = `/api/plugins/${PLUGIN_ID}/resources`;

async function openAudit(page: Page) {
  await page.goto(AUDIT);
  await expect(page.getByTestId('preview banner')).toBeVisible();
  await settle(page);
}

test.describe('as Viewer', () => {
  test.use({ role: 'Viewer' });

  test('the backend refuses every sign-off decision with 403 and says why', async ({ page, problems }) => {
    problems.allow(/HTTP 403/);
    await openAudit(page);
    await expect(page.getByText('Admins only')).toBeVisible();
    for (const [path, data] of [
      ['/signoff/suggestions/1:1:root/decision', { decision: 'approve', version: 1 }],
      ['/signoff/suggestions/1:1:1/execute', { version: 1 }],
      ['/canaries/shop/payments/promote', { comment: 'go' }],
    ] as const) {
      const res = await page.request.post(`${RESOURCES}${path}`, { data });
      expect(res.status(), path).toBe(403);
      expect((await res.json()).detail).toContain('needs the Editor role');
    }
    expect((await page.request.get(`${RESOURCES}/signoff/audit/verify`)).status()).toBe(403);
  });
});

test.describe('as Editor', () => {
  test.use({ role: 'Editor' });

  test('the Audit page and its exports stay Admin-only', async ({ page, problems }, testInfo) => {
    problems.allow(/HTTP 403/);
    await openAudit(page);
    await expect(page.getByText('Admins only')).toBeVisible();
    await page.screenshot({ path: testInfo.outputPath('audit-editor.png') });
    expect((await page.request.get(`${RESOURCES}/signoff/audit/verify`)).status()).toBe(403);
    expect((await page.request.get(`${RESOURCES}/signoff/audit/export?format=csv`)).status()).toBe(403);
  });
});

test.describe('as Admin', () => {
  test.use({ role: 'Admin' });

  // The trail's entries come from decisions (canaries.spec records a gate
  // decision and finds it in the export); here: the page and both exports agree.
  test('the Audit page verifies the chain and exports it', async ({ page }, testInfo) => {
    await openAudit(page);
    const ok = page.getByTestId('audit-verdict-ok');
    await expect(ok).toContainText('entries, each linked to the one before');
    await expect(page.getByRole('link', { name: /Export JSON/ })).toBeVisible();
    await page.screenshot({ path: testInfo.outputPath('audit-admin.png') });

    const csv = await page.request.get(`${RESOURCES}/signoff/audit/export?format=csv`);
    expect(csv.status()).toBe(200);
    const text = await csv.text();
    const rows = text.split('\n').filter((l) => l !== '');
    expect(rows[0]).toBe('seq,at,login,name,role,action,subject,incident,comment,before,after,prev,hash');
    const json = await (await page.request.get(`${RESOURCES}/signoff/audit/export?format=json`)).json();
    expect(json.verdict.ok).toBe(true);
    expect(json.entries.length).toBe(json.verdict.entries);
    expect(rows.length - 1).toBeGreaterThanOrEqual(json.entries.length);
  });
});
