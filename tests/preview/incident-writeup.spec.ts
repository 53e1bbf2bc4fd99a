/*
 * The LLM write-up beneath an incident's findings, end to end on the
 * preview stack: the real Prometheus fires for the simulated fault, the
 * incident comes in through the real Alertmanager, the plugin's worker
 * captures evidence and findings, and the write-up stage asks "Ollama" — a
 * contract fake of Ollama's API whose scripted answer repeats the prompt's
 * own top finding (contractfake.FindingsEcho: no model runs here; this
 * proves the pipeline and the page, not an answer's quality). It streams
 * about 24 bytes every 120 ms, so the page shows it arriving.
 *
 * Nothing here knows the scenario's names: the incident is the one whose
 * capture ranked a finding, and the second incident of the queue test is
 * posted for a workload the first one's evidence names as a neighbour.
 */
import { type APIRequestContext, type Page } from '@playwright/test';
import { expect, PAGES, PLUGIN_ID, previewURL, settle, test } from './fixtures';

const RESOURCES = `/api/plugins/${PLUGIN_ID}/resources`;
const T = {
  drawer: 'data-testid incidents-drawer',
  finding: 'data-testid incidents-finding',
  writeUp: 'data-testid incidents-write-up',
  queue: 'data-testid incidents-write-up-queue',
  streaming: 'data-testid incidents-write-up-streaming',
  answer: 'data-testid incidents-write-up-answer',
  fallback: 'data-testid incidents-write-up-fallback',
  step: 'data-testid incidents-write-up-step',
  unsupported: 'data-testid incidents-write-up-unsupported',
  citation: 'data-testid incidents-write-up-citation',
};

interface Row {
  id: number;
  state: string;
  key: { namespace: string; workload?: string };
  topFinding?: string;
  mergedInto?: number;
}

const as = (role: string) => ({ headers: { 'X-Preview-Role': role } });

/** The open incident whose capture ranked a finding, once one has (from its first capture, on the stack's leak). */
async function incidentWithFinding(api: APIRequestContext): Promise<Row> {
  let found: Row | undefined;
  await expect
    .poll(
      async () => {
        const res = await api.get(`${RESOURCES}/incidents?state=open`, as('Viewer'));
        const list = (await res.json()).incidents as Row[];
        found = list.find((i) => i.topFinding && !i.mergedInto);
        return found?.id ?? 0;
      },
      { timeout: 600_000, intervals: [5_000], message: 'no incident of the stack’s fault ranked a finding' }
    )
    .not.toBe(0);
  return found!;
}

/** The write-up's state through the route. */
async function writeUpState(api: APIRequestContext, id: number): Promise<string> {
  const res = await api.get(`${RESOURCES}/incidents/${id}/analysis`, as('Viewer'));
  return (await res.json()).state;
}

/**
 * The suite shares one stack: an earlier spec that takes Ollama down for a while (explain.spec)
 * can catch this incident's write-up then, and a failed one is retried only after 5 minutes.
 * Asked again (as an Editor), it starts from the reachable model.
 */
async function retryFailedWriteUp(api: APIRequestContext, id: number) {
  if ((await writeUpState(api, id)) === 'failed') {
    const res = await api.post(`${RESOURCES}/incidents/${id}/analysis`, as('Editor'));
    expect(res.status(), 'asking again for a write-up that failed').toBeLessThan(300);
  }
}

async function openIncident(page: Page, id: number) {
  await page.goto(`${PAGES.incidents}?incident=${id}`);
  await settle(page);
  await expect(page.getByTestId(T.drawer)).toBeVisible();
}

test.describe('the LLM write-up', () => {
  test.describe.configure({ timeout: 780_000 });

  test.describe('as a Viewer', () => {
    test.use({ role: 'Viewer' });

    test('streams in beneath the findings, cites the evidence it rests on, and marks what it cannot support', async ({
      page,
      playwright,
    }, testInfo) => {
      const api = await playwright.request.newContext({ baseURL: previewURL() });
      try {
        const inc = await incidentWithFinding(api);
        await retryFailedWriteUp(api, inc.id);
        const who = `${inc.key.namespace}/${inc.key.workload}`;
        await openIncident(page, inc.id);
        const drawer = page.getByTestId(T.drawer);
        await expect(drawer.getByTestId(T.finding).first()).toBeVisible({ timeout: 90_000 });
        const writeUp = drawer.getByTestId(T.writeUp);
        await expect(writeUp).toBeVisible();
        // The answer about this finding (an earlier one, written before the
        // detectors ranked it, says the evidence was insufficient).
        const answer = writeUp.getByTestId(T.answer);
        await expect(answer).toContainText(who, { timeout: 120_000 });
        await expect(answer.locator('[aria-label="Root cause"]')).toContainText(who);
        // Viewers read; only Editors ask again (the backend refuses them too).
        await expect(writeUp.getByRole('button', { name: /Analyse again/ })).toHaveCount(0);
        const denied = await api.post(`${RESOURCES}/incidents/${inc.id}/analysis`, as('Viewer'));
        expect(denied.status()).toBe(403);

        // The guard's verdicts: the restart is on the allowlist, the step citing nothing is marked.
        const steps = answer.getByTestId(T.step);
        await expect(steps.filter({ hasText: 'rollout restart' })).toContainText('On the allowlist');
        await expect(answer.getByTestId(T.unsupported)).not.toHaveCount(0);
        await writeUp.scrollIntoViewIfNeeded();
        await page.screenshot({ path: testInfo.outputPath('incident-writeup-answer.png') });

        // Every suggestion awaits sign-off; a Viewer sees it, read-only.
        const panel = page.getByTestId('signoff-panel');
        await expect(panel).toBeVisible({ timeout: 30_000 });
        await expect(panel.locator('[data-testid^="signoff-review-"][data-testid$="-readonly"]').first()).toContainText(
          'Signing off needs the Editor role'
        );
        await expect(panel.getByRole('button', { name: 'Approve' })).toHaveCount(0);

        // A citation jumps to the evidence it cites.
        const detail = await (await api.get(`${RESOURCES}/incidents/${inc.id}`, as('Viewer'))).json();
        const shown = new Set<string>(
          ((detail.evidence.pack.metrics ?? []) as Array<{ id: string }>).slice(0, 8).map((m) => m.id)
        );
        const cites = answer.getByTestId(T.citation);
        const n = await cites.count();
        let jumped = false;
        for (let i = 0; i < n && !jumped; i++) {
          const id = (await cites.nth(i).textContent()) ?? '';
          const target = drawer.locator(`[data-evidence-id="${id}"]`);
          if (!shown.has(id) || (await target.count()) === 0) {
            continue;
          }
          await cites.nth(i).click();
          await expect(target).toBeInViewport();
          jumped = true;
        }
        expect(jumped, 'no citation names a metric the evidence table shows').toBe(true);
      } finally {
        await api.dispose();
      }
    });
  });

  test.describe('as an Editor', () => {
    test.use({ role: 'Editor' });

    test('asks again: waits its turn behind another incident’s write-up, then streams', async ({
      page,
      playwright,
    }, testInfo) => {
      const api = await playwright.request.newContext({ baseURL: previewURL() });
      try {
        const inc = await incidentWithFinding(api);
        await retryFailedWriteUp(api, inc.id);
        const detail = await (await api.get(`${RESOURCES}/incidents/${inc.id}`, as('Viewer'))).json();
        const neighbour = (detail.evidence.pack.scope as Array<{ ns: string; wl: string }>)[0];
        expect(neighbour, 'the evidence names no neighbour').toBeTruthy();
        await openIncident(page, inc.id);
        const writeUp = page.getByTestId(T.drawer).getByTestId(T.writeUp);
        await expect(writeUp.getByTestId(T.answer)).toBeVisible({ timeout: 120_000 });

        // Another incident's write-up takes the model first: an alert on a neighbour.
        const now = new Date().toISOString();
        const post = await api.post(`${RESOURCES}/intake/alertmanager`, {
          ...as('Editor'),
          data: {
            version: '4',
            status: 'firing',
            receiver: 'meshwatch',
            groupKey: '{}:{alertname="WriteUpQueueProbe"}',
            groupLabels: { alertname: 'WriteUpQueueProbe' },
            commonLabels: {},
            commonAnnotations: {},
            externalURL: 'http://alertmanager.test',
            truncatedAlerts: 0,
            alerts: [
              {
                status: 'firing',
                labels: {
                  alertname: 'WriteUpQueueProbe',
                  namespace: neighbour.ns,
                  workload: neighbour.wl,
                  severity: 'warning',
                },
                annotations: { summary: 'a second incident for the write-up queue test' },
                startsAt: now,
                endsAt: '0001-01-01T00:00:00Z',
                generatorURL: '',
                fingerprint: 'e2e0queue0probe01',
              },
            ],
          },
        });
        expect(post.status()).toBe(200);
        const other = ((await post.json()).incidents as number[])[0];
        await expect.poll(() => writeUpState(api, other), { timeout: 60_000, intervals: [200] }).toBe('writing');

        await writeUp.getByRole('button', { name: /Analyse again/ }).click();
        await expect(writeUp.getByTestId(T.queue)).toContainText('next in line');
        await page.screenshot({ path: testInfo.outputPath('incident-writeup-queued.png') });
        const streaming = writeUp.getByTestId(T.streaming);
        await expect(streaming).toBeVisible({ timeout: 60_000 });
        await expect(streaming).toContainText(inc.key.workload ?? '', { timeout: 30_000 });
        await page.screenshot({ path: testInfo.outputPath('incident-writeup-streaming.png') });
        await expect(writeUp.getByTestId(T.answer)).toBeVisible({ timeout: 60_000 });
        await expect(streaming).toHaveCount(0);

        // The Editor signs off the root cause with a comment: its badge and the incident's audit trail say so.
        const root = page.locator('[data-testid^="signoff-review-"][data-testid$=":root"]');
        await expect(root).toBeVisible({ timeout: 30_000 });
        await expect(root.getByTestId('signoff-status-pending')).toBeVisible();
        await root.getByRole('textbox', { name: 'Comment on Root cause' }).fill('matches the sidecar graph');
        await root.getByRole('button', { name: 'Approve' }).click();
        await expect(root.getByTestId('signoff-status-approved')).toBeVisible();
        await expect(root).toContainText(/approved by/);
        await expect(page.getByTestId('signoff-panel')).toContainText('matches the sidecar graph');
        await root.scrollIntoViewIfNeeded();
        await page.screenshot({ path: testInfo.outputPath('incident-writeup-signoff.png') });
      } finally {
        await api.dispose();
      }
    });
  });

  test.describe('as an Admin', () => {
    test.use({ role: 'Admin' });

    test('with Ollama down, the page says why there is no write-up and the findings stand', async ({
      page,
      playwright,
    }, testInfo) => {
      const api = await playwright.request.newContext({ baseURL: previewURL() });
      const settingsURL = `/api/plugins/${PLUGIN_ID}/settings`;
      const before = await (await api.get(settingsURL, as('Admin'))).json();
      try {
        const inc = await incidentWithFinding(api);
        // Point the LLM at a loopback port nothing listens on.
        const jsonData = { ...before.jsonData, ollama: { ...before.jsonData.ollama, url: 'http://127.0.0.1:9' } };
        const saved = await api.post(settingsURL, {
          ...as('Admin'),
          data: { enabled: before.enabled, pinned: before.pinned, jsonData },
        });
        expect(saved.ok()).toBe(true);
        await openIncident(page, inc.id);
        const drawer = page.getByTestId(T.drawer);
        const writeUp = drawer.getByTestId(T.writeUp);
        await expect(writeUp.getByRole('button', { name: /Analyse again/ })).toBeEnabled({ timeout: 60_000 });
        await writeUp.getByRole('button', { name: /Analyse again/ }).click();
        const fallback = writeUp.getByTestId(T.fallback);
        await expect(fallback).toContainText(/Ollama/, { timeout: 90_000 });
        await expect(fallback).toContainText('the findings above stand');
        // The findings section stays, whatever the latest capture ranked.
        await expect(drawer.getByRole('region', { name: 'Findings' })).toBeVisible();
        await writeUp.scrollIntoViewIfNeeded();
        await page.screenshot({ path: testInfo.outputPath('incident-writeup-fallback.png') });
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
