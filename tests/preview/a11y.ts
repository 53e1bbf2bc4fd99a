/* Accessibility checks shared by the specs: axe, and keyboard reach. */
import AxeBuilder from '@axe-core/playwright';
import { type Page, expect } from '@playwright/test';

/**
 * The legend labels of @grafana/ui's VizLegend (drawn by the host's panel
 * stand-in, not by MeshWatch) carry aria-label "All series selected", which
 * does not contain the visible series name (axe: label-content-name-mismatch).
 * That is Grafana's component; the panel page excludes it.
 */
export const VIZ_LEGEND_LABEL = '[data-testid="preview panel"] [aria-label="All series selected"]';

/** axe-core finds no serious or critical violation on the page (outside `exclude`). */
export async function expectNoSeriousAxeViolations(page: Page, exclude: string[] = []) {
  const builder = new AxeBuilder({ page });
  for (const selector of exclude) {
    builder.exclude(selector);
  }
  const results = await builder.analyze();
  const serious = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(serious, 'serious or critical axe violations').toEqual([]);
}

interface Control {
  key: string;
  label: string;
}

/**
 * Pressing Tab from the top of the page reaches every visible, enabled
 * control (a radio group counts once: Tab enters it, arrows move inside).
 */
export async function expectTabReachesEveryControl(page: Page) {
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  const controls: Control[] = await page.evaluate(() => {
    const sel = 'a[href], button, input, select, textarea, [tabindex]:not([tabindex="-1"]), [contenteditable="true"]';
    const out: Array<{ key: string; label: string }> = [];
    const seen = new Set<string>();
    document.querySelectorAll<HTMLElement>(sel).forEach((el, i) => {
      const input = el instanceof HTMLInputElement ? el : undefined;
      if ((el as HTMLButtonElement).disabled || el.getAttribute('tabindex') === '-1' || input?.type === 'hidden') {
        return;
      }
      if (el.closest('[inert], [aria-hidden="true"]')) {
        return;
      }
      const st = getComputedStyle(el);
      const r = el.getBoundingClientRect();
      const isRadio = input?.type === 'radio';
      if (st.visibility === 'hidden' || st.display === 'none' || (!isRadio && r.width === 0 && r.height === 0)) {
        return;
      }
      const key = isRadio ? `radio:${input!.name}` : `el:${i}`;
      el.setAttribute('data-preview-kbd', key);
      if (seen.has(key)) {
        return;
      }
      seen.add(key);
      const label =
        el.getAttribute('aria-label') ||
        (el.textContent ?? '').trim().slice(0, 40) ||
        el.getAttribute('name') ||
        el.id ||
        el.tagName;
      out.push({ key, label: `${el.tagName.toLowerCase()} "${label}"` });
    });
    return out;
  });
  const reached = new Set<string>();
  for (let i = 0; i < controls.length * 2 + 10 && reached.size < controls.length; i++) {
    await page.keyboard.press('Tab');
    const key = await page.evaluate(() => document.activeElement?.getAttribute('data-preview-kbd') ?? null);
    if (key) {
      reached.add(key);
    }
  }
  const missed = controls.filter((c) => !reached.has(c.key)).map((c) => c.label);
  expect(missed, 'controls that Tab never reaches').toEqual([]);
  expect(controls.length).toBeGreaterThan(0);
}
