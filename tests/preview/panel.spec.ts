/*
 * The dashboard panel-menu stand-in: its menu lists the links the plugin
 * registers for grafana/dashboard/panel/menu. With the real plugin that is
 * "Explain this panel" (explain.spec.ts follows it into its modal); with a
 * fixture plugin that registers links
 * (tests/preview/fixtures/link-plugin) the host's mechanism is exercised end
 * to end: declared links only, configure(context), onClick with openModal.
 */
import { type Page } from '@playwright/test';
import { expect, openPage, settle, test } from './fixtures';

async function openPanelMenu(page: Page) {
  await page.getByRole('button', { name: /Menu for panel/ }).click();
  const menu = page.getByRole('menu');
  await expect(menu).toBeVisible();
  await expect(menu.getByText('Extensions', { exact: true })).toBeVisible();
  return menu;
}

test('the panel menu opens and lists the plugin’s panel-menu links', async ({ page }) => {
  await openPage(page, 'panel-menu');
  await expect(page.getByTestId('preview panel')).toHaveAttribute('data-plugin-loaded', 'true');
  const declared = await page.evaluate(
    () =>
      (
        window as unknown as {
          grafanaBootData: {
            preview: { plugin: { extensions?: { addedLinks?: Array<{ title: string; targets: string[] }> } } };
          };
        }
      ).grafanaBootData.preview.plugin.extensions?.addedLinks?.filter((l) =>
        l.targets.includes('grafana/dashboard/panel/menu')
      ) ?? []
  );
  const menu = await openPanelMenu(page);
  if (declared.length === 0) {
    await expect(menu.getByRole('menuitem', { name: 'No extensions' })).toBeVisible();
  } else {
    await expect(menu.getByRole('menuitem')).toHaveCount(Math.min(declared.length, 3));
    await expect(menu.getByRole('menuitem').first()).toContainText(declared[0].title);
  }
  await page.keyboard.press('Escape');
  await expect(menu).toBeHidden();
});

test.describe('with a plugin that registers panel-menu links', () => {
  test.use({ baseURL: process.env.PREVIEW_FIXTURE_URL });

  test('lists declared links, configured from the panel context; onClick opens a modal with that context', async ({
    page,
  }) => {
    await page.goto('/preview/panel');
    await settle(page);
    await expect(page.getByTestId('preview panel')).toHaveAttribute('data-plugin-loaded', 'true');
    const menu = await openPanelMenu(page);
    const items = menu.getByRole('menuitem');
    // configure() retitles the link from the context; the undeclared link and
    // the one configure() hides are not offered.
    await expect(items).toHaveCount(1);
    await expect(items.first()).toContainText('Explain Request rate by service');
    await items.first().click();
    const dialog = page.getByRole('dialog');
    await expect(dialog).toBeVisible();
    await expect(dialog).toContainText('Context of Request rate by service');
    const context = JSON.parse((await dialog.getByTestId('fixture-context').textContent()) ?? '{}');
    expect(context).toMatchObject({
      extensionPointId: 'grafana/dashboard/panel/menu',
      pluginId: 'timeseries',
      id: 2,
      title: 'Request rate by service',
      timeRange: { from: 'now-1h', to: 'now' },
      timeZone: 'utc',
      dashboard: { uid: 'meshwatch-preview', title: 'Mesh overview (preview stand-in)', tags: ['meshwatch', 'istio'] },
      targets: [{ refId: 'A', datasource: { type: 'prometheus', uid: 'preview-prometheus' } }],
      interpolatedUid: 'preview-prometheus',
      series: 3,
      dataState: 'Done',
      frozen: true,
    });
    await dialog.getByRole('button', { name: 'Close' }).click();
    await expect(dialog).toBeHidden();
  });
});

test.describe('plugin streams (Grafana Live) through the preview host', () => {
  test.use({ baseURL: process.env.PREVIEW_FIXTURE_URL });

  test('a page subscribes over the websocket and gets the backend’s answer', async ({ page }) => {
    // The fixture page subscribes to plugin/meshwatch-mesh-app/fixture/ticks,
    // a path the real backend does not serve: SubscribeStream answers
    // NotFound and the subscription ends with an Invalid status, as Grafana
    // reports it. (A served path, `alerts`, is tested in incidents.spec.ts.)
    await page.goto('/a/meshwatch-mesh-app/fixture');
    const live = page.getByTestId('fixture-live');
    await expect(live).toContainText('"type":"complete"');
    const events = JSON.parse((await live.textContent()) ?? '[]');
    expect(events[0]).toMatchObject({ type: 'status', state: 'connecting' });
    expect(events).toContainEqual({ type: 'status', state: 'invalid', error: 'not found' });
  });
});
