/*
 * The Canaries page on the real backend against a canary rollout: a preview
 * host of its own runs `--stack canary-promotion-gate` (the simulated mesh
 * with its simulated Flagger; the stack mirrors the Canary and its events
 * into a real kube-apiserver, and the gates are the simulator's load tester
 * gates). The rollout is held at WaitingPromotion; a Viewer sees it read-only,
 * an Editor signs off with a comment, and the page follows the canary live to
 * Succeeded. Screenshots of each phase go to test-results/canaries-screenshots/.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { type BrowserContext, type Page, test, expect } from '@playwright/test';

const root = path.resolve(__dirname, '..', '..');
// Outside the suite's outputDir, which a later run empties.
const shots = path.join(root, 'test-results', 'canaries-screenshots');
const PLUGIN_ID = 'meshwatch-mesh-app';

interface Host {
  proc: ChildProcess;
  url: string;
}

/** A preview host of its own on the real backend with `--stack <scenario>`; resolves with its URL. */
async function startHost(scenario: string, ...extra: string[]): Promise<Host> {
  const work = process.env.PREVIEW_WORKDIR;
  if (!work) {
    throw new Error('PREVIEW_WORKDIR is not set: run with -c tests/preview/playwright.config.ts');
  }
  const dir = fs.mkdtempSync(path.join(work, 'canaries-'));
  const log = path.join(dir, 'server.log');
  const proc = spawn(
    path.join(work, 'meshwatch'),
    [
      'preview',
      ...['--listen', '127.0.0.1:0', '--dist', 'dist', '--host-dir', 'tests/preview/host/dist'],
      ...['--provisioning', 'provisioning/plugins/apps.yaml', '--settings-file', path.join(dir, 'settings.json')],
      ...['--set', `storage.path=${path.join(dir, 'meshwatch.db')}`],
      ...['--stack', scenario, '--stack-eval', '5s', ...extra],
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] }
  );
  proc.stderr?.on('data', (chunk: Buffer) => fs.appendFileSync(log, chunk));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(
      () =>
        reject(new Error(`the ${scenario} preview host did not start:\n${fs.readFileSync(log, 'utf8').slice(-3000)}`)),
      280_000
    );
    proc.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = out.match(/not Grafana — (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1].replace(/\/$/, ''));
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the ${scenario} preview host exited (${code}):\n${fs.readFileSync(log, 'utf8').slice(-3000)}`));
    });
  });
  fs.mkdirSync(shots, { recursive: true });
  return { proc, url };
}

async function stopHost(h: Host | undefined) {
  if (h && h.proc.exitCode === null) {
    const exited = new Promise((r) => h.proc.once('exit', r));
    h.proc.kill('SIGTERM');
    await exited;
  }
}

let host: Host | undefined;
let url = '';

test.describe.configure({ mode: 'serial' });

async function openAs(context: BrowserContext, role: 'Viewer' | 'Editor', base = url): Promise<Page> {
  await context.addCookies([
    { name: 'meshwatch_preview_role', value: role, url: base },
    { name: 'meshwatch_preview_theme', value: 'dark', url: base },
  ]);
  const page = await context.newPage();
  await page.goto(`${base}/a/${PLUGIN_ID}/canaries`);
  return page;
}

const card = (page: Page) => page.getByTestId(/^data-testid canary shop\//);

test.describe('a rollout held at its promotion gate', () => {
  test.beforeAll(async () => {
    test.setTimeout(300_000);
    host = await startHost('canary-promotion-gate', '--stack-canary-gallery');
    url = host.url;
  });

  test.afterAll(async () => {
    await stopHost(host);
  });

  test('a Viewer sees the held canary read-only', async ({ context }) => {
    test.setTimeout(120_000);
    const page = await openAs(context, 'Viewer');
    await expect(card(page)).toBeVisible({ timeout: 60_000 });
    await expect(card(page).getByTestId('data-testid canary-phase')).toHaveText('WaitingPromotion');
    await expect(card(page).getByTestId('data-testid canary-awaiting')).toContainText(
      'Awaiting a decision (Editor or higher)'
    );
    await expect(card(page).getByTestId('data-testid canary-promote')).toBeDisabled();
    await expect(card(page).getByTestId('data-testid canary-rollback')).toBeDisabled();
    await page.screenshot({ path: path.join(shots, 'waiting-promotion-viewer.png'), fullPage: true });
  });

  // Beside the live rollout, the stack holds one canary still in each of Flagger's phases
  // (namespace canary-phases, status as Flagger leaves it): the page in every phase.
  test('every Flagger phase, as an Editor sees it', async ({ context }) => {
    test.setTimeout(120_000);
    const page = await openAs(context, 'Editor');
    const phases = [
      'Initializing',
      'Initialized',
      'Waiting',
      'Progressing',
      'WaitingPromotion',
      'Promoting',
      'Finalising',
      'Succeeded',
      'Failed',
      'Terminating',
      'Terminated',
    ];
    const live = ['Waiting', 'Progressing', 'WaitingPromotion'];
    for (const phase of phases) {
      const c = page.getByTestId(`data-testid canary canary-phases/phase-${phase.toLowerCase()}`);
      await expect(c, phase).toBeVisible({ timeout: 60_000 });
      await expect(c.getByTestId('data-testid canary-phase'), phase).toHaveText(phase);
      if (phase === 'Waiting' || phase === 'WaitingPromotion') {
        await expect(c.getByTestId('data-testid canary-awaiting'), phase).toContainText('Awaiting your decision');
      } else {
        await expect(c.getByTestId('data-testid canary-awaiting'), phase).toBeHidden();
      }
      for (const button of ['promote', 'rollback']) {
        const b = c.getByTestId(`data-testid canary-${button}`);
        await (live.includes(phase)
          ? expect(b, `${phase} ${button}`).toBeEnabled()
          : expect(b, `${phase} ${button}`).toBeDisabled());
      }
      await c.scrollIntoViewIfNeeded();
      await c.screenshot({ path: path.join(shots, `phase-${phase.toLowerCase()}.png`) });
    }
  });

  test('an Editor signs off with a comment and the page follows the canary to Succeeded', async ({ context }) => {
    test.setTimeout(420_000);
    const page = await openAs(context, 'Editor');
    await expect(card(page)).toBeVisible({ timeout: 60_000 });
    await expect(card(page).getByTestId('data-testid canary-awaiting')).toContainText('Awaiting your decision');
    await expect(card(page).getByTestId('data-testid canary-weight')).toContainText('now 50%');
    await page.screenshot({ path: path.join(shots, 'waiting-promotion.png'), fullPage: true });

    await card(page).getByTestId('data-testid canary-promote').click();
    const confirm = page.getByTestId('data-testid canary-confirm');
    await expect(confirm).toBeDisabled();
    await page.getByTestId('data-testid canary-comment').fill('checks green at 50 %, error budget intact');
    await confirm.click();
    await expect(confirm).toBeHidden();
    await expect(card(page).getByTestId('data-testid canary-timeline')).toContainText('Promotion gate opened by', {
      timeout: 30_000,
    });
    await expect(card(page).getByTestId('data-testid canary-awaiting')).toBeHidden({ timeout: 30_000 });
    // The decision is in the audit trail, with its comment, for an Admin's export.
    const csv = await page.request.get(`${url}/api/plugins/${PLUGIN_ID}/resources/signoff/audit/export?format=csv`, {
      headers: { 'X-Preview-Role': 'Admin' },
    });
    expect(csv.status()).toBe(200);
    const gateRow = (await csv.text()).split('\n').find((l) => l.includes('gate-open'));
    expect(gateRow).toContain('checks green at 50 %, error budget intact');

    // The simulated Flagger takes its analysis interval per step; the page follows live.
    const phase = card(page).getByTestId('data-testid canary-phase');
    await expect(phase).toHaveText(/Promoting|Finalising|Succeeded/, { timeout: 240_000 });
    await page.screenshot({ path: path.join(shots, 'promoting.png'), fullPage: true });
    await expect(phase).toHaveText('Succeeded', { timeout: 240_000 });
    await expect(card(page).getByTestId('data-testid canary-promote')).toBeDisabled();
    await page.screenshot({ path: path.join(shots, 'succeeded.png'), fullPage: true });
  });
});

test.describe('a 5xx canary Flagger rolls back on its own', () => {
  let failed: Host | undefined;

  test.beforeAll(async () => {
    test.setTimeout(300_000);
    failed = await startHost('canary-5xx-regression');
  });

  test.afterAll(async () => {
    await stopHost(failed);
  });

  test('the page shows it Failed with its failed checks, and it is an incident with the canary as evidence', async ({
    context,
  }) => {
    test.setTimeout(360_000);
    const base = failed!.url;
    const page = await openAs(context, 'Viewer', base);
    await expect(card(page)).toBeVisible({ timeout: 60_000 });
    await expect(card(page).getByTestId('data-testid canary-phase')).toHaveText('Failed');
    const timeline = card(page).getByTestId('data-testid canary-timeline');
    await expect(timeline).toContainText('Rolling back');
    await expect(timeline).toContainText('Canary failed!');
    await expect(card(page).getByTestId('data-testid canary-awaiting')).toBeHidden();
    await expect(card(page).getByTestId('data-testid canary-promote')).toBeDisabled();
    await expect(card(page).getByTestId('data-testid canary-rollback')).toBeDisabled();
    await page.screenshot({ path: path.join(shots, 'failed.png'), fullPage: true });

    // MeshWatch opens the rollback as an incident itself (whatever rules run), about the
    // canary's target; its evidence carries the canary.
    const target = ((await card(page).getAttribute('data-testid')) ?? '').replace(/^data-testid canary /, '');
    const [ns, name] = target.split('/');
    const canaries = await (await page.request.get(`${base}/api/plugins/${PLUGIN_ID}/resources/canaries`)).json();
    const workload: string = canaries.canaries.find((c: { name: string }) => c.name === name).targetName;
    await page.goto(`${base}/a/${PLUGIN_ID}/incidents`);
    const row = page.getByTestId('data-testid incidents-row').filter({ hasText: `${ns}/${workload}` });
    await expect(row).not.toHaveCount(0, { timeout: 90_000 });
    await row.first().getByRole('button').first().click();
    await expect(page.getByTestId('data-testid incidents-drawer')).toContainText('FlaggerCanaryFailed', {
      timeout: 30_000,
    });
    const evidence = page.getByTestId('data-testid incidents-canary');
    await expect(evidence).toBeVisible({ timeout: 90_000 });
    await expect(evidence).toContainText(`Flagger canary ${ns}/${name}`);
    await expect(evidence).toContainText('Failed');
    await expect(evidence.getByRole('list', { name: 'Canary events' })).toContainText('Canary failed!');
    await evidence.scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(shots, 'failed-incident.png'), fullPage: true });
  });
});
