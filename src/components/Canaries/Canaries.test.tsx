import React from 'react';
import { render, screen, fireEvent, waitFor, within } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import { dataFrameToJSON, toDataFrame, FieldType } from '@grafana/data';
import type { Canary } from '../../api/wire/canaries';
import { readCanariesPacket } from './canariesFrame';
import { CanariesView } from './CanariesView';
import { canaryIds } from './ids';
import { decidable, heldAt, rangeText, valueText } from './format';

// @grafana/ui renders slowly on a busy 2-core machine.
const SLOW = { timeout: 10_000 };

const canary = (over: Partial<Canary> = {}): Canary => ({
  namespace: 'shop',
  name: 'checkout',
  targetKind: 'Deployment',
  targetName: 'checkout-api',
  phase: 'WaitingPromotion',
  weight: 50,
  steps: [10, 25, 50],
  maxWeight: 50,
  iterations: 0,
  analysisIterations: 0,
  failedChecks: 0,
  threshold: 1,
  interval: '15s',
  lastTransition: '2026-12-02T05:00:00Z',
  conditions: [],
  metrics: [{ name: 'request-success-rate', min: 99.5, interval: '1m', value: 99.91, passing: true }],
  gates: [
    {
      type: 'confirm-promotion',
      url: 'http://lt.shop/gate/check',
      loadTester: true,
      open: false,
      at: '0001-01-01T00:00:00Z',
    },
    {
      type: 'rollback',
      url: 'http://lt.shop/rollback/check',
      loadTester: true,
      open: false,
      at: '0001-01-01T00:00:00Z',
    },
  ],
  awaitingDecision: true,
  status: 0,
  suspended: false,
  history: [
    { at: '2026-12-02T04:59:30Z', kind: 'progression', message: 'Advance checkout.shop canary weight 50' },
    {
      at: '2026-12-02T05:00:00Z',
      kind: 'gate',
      message: 'Halt checkout.shop advancement waiting for promotion approval',
      warning: true,
    },
  ],
  ...over,
});

/** A Live packet as the backend sends it: the frame with its schema (data.IncludeAll). */
function packet(list: Canary[], notice?: string) {
  const frame = toDataFrame({
    name: 'canaries',
    fields: [
      { name: 'namespace', type: FieldType.string, values: list.map((c) => c.namespace) },
      { name: 'name', type: FieldType.string, values: list.map((c) => c.name) },
      { name: 'phase', type: FieldType.string, values: list.map((c) => c.phase) },
      { name: 'weight', type: FieldType.number, values: list.map((c) => c.weight) },
      { name: 'awaitingDecision', type: FieldType.boolean, values: list.map((c) => c.awaitingDecision) },
      { name: 'canary', type: FieldType.other, values: list.map((c) => c) },
    ],
  });
  if (notice) {
    frame.meta = { notices: [{ severity: 'error', text: notice }] };
  }
  return JSON.parse(JSON.stringify(dataFrameToJSON(frame)));
}

describe('the canaries frame', () => {
  it('reads every canary and the notice, and skips what is not a canary', () => {
    const snap = readCanariesPacket(packet([canary(), canary({ name: 'search', phase: 'Progressing' })], 'stale'));
    expect(snap?.rows.map((c) => c.name)).toEqual(['checkout', 'search']);
    expect(snap?.notice).toBe('stale');
    expect(readCanariesPacket({ hello: 1 })).toBeUndefined();
  });
  it('defends the lists an older backend may lack', () => {
    const c = canary();
    const partial = { ...c, history: undefined, gates: undefined } as unknown as Canary;
    const snap = readCanariesPacket(packet([partial]));
    expect(snap?.rows[0].history).toEqual([]);
    expect(snap?.rows[0].gates).toEqual([]);
  });
});

describe('format', () => {
  it('says where a canary is held and what can be decided', () => {
    expect(heldAt(canary())).toBe('confirm-promotion');
    expect(heldAt(canary({ phase: 'Waiting' }))).toBe('confirm-rollout');
    expect(heldAt(canary({ awaitingDecision: false }))).toBeUndefined();
    expect(decidable(canary(), 'promote')).toBe(true);
    expect(decidable(canary({ phase: 'Succeeded' }), 'rollback')).toBe(false);
    expect(decidable(canary({ gates: [] }), 'promote')).toBe(false);
    expect(rangeText({ name: 'x', min: 99.5 })).toBe('≥ 99.5');
    expect(rangeText({ name: 'x', max: 500 })).toBe('≤ 500');
    expect(valueText(undefined)).toBe('no value yet');
    expect(valueText(99.91)).toBe('99.91');
  });
});

describe('CanariesView', () => {
  const stream = (rows: Canary[], notice?: string) => ({ rows, notice, rowsAt: 1, updatedAt: 1 });
  const routed = (ui: React.ReactElement) => (
    <MemoryRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>{ui}</MemoryRouter>
  );

  it('shows the phase, the weight over the steps, the checks, the timeline and "awaiting your decision"', async () => {
    render(<CanariesView stream={stream([canary()])} canDecide role="Editor" onDecide={jest.fn()} />);
    const card = await screen.findByTestId(canaryIds.card('shop', 'checkout'), {}, SLOW);
    expect(within(card).getByTestId(canaryIds.phase)).toHaveTextContent('WaitingPromotion');
    expect(within(card).getByTestId(canaryIds.weight)).toHaveTextContent('now 50%');
    expect(within(card).getByTestId(canaryIds.weight)).toHaveTextContent('10%25%50%100%');
    expect(within(card).getByTestId(canaryIds.checks)).toHaveTextContent('Failed checks 0 / 1');
    expect(within(card).getByTestId(canaryIds.checks)).toHaveTextContent(
      'request-success-rate 99.91 (needs ≥ 99.5 over 1m)'
    );
    expect(within(card).getByTestId(canaryIds.awaiting)).toHaveTextContent('Awaiting your decision');
    const items = within(within(card).getByTestId(canaryIds.timeline)).getAllByRole('listitem');
    expect(items[0]).toHaveTextContent('waiting for promotion approval'); // newest first
    expect(card.querySelector('a[href*="/d/meshwatch-canary"]')?.getAttribute('href')).toContain(
      'var-canary=checkout-api'
    );
  });

  it('asks for a comment, then signs off', async () => {
    const onDecide = jest.fn().mockResolvedValue(undefined);
    render(<CanariesView stream={stream([canary()])} canDecide role="Editor" onDecide={onDecide} />);
    fireEvent.click(await screen.findByTestId(canaryIds.promote, {}, SLOW));
    const confirm = await screen.findByTestId(canaryIds.confirm, {}, SLOW);
    expect(confirm).toBeDisabled(); // no comment yet
    fireEvent.change(screen.getByTestId(canaryIds.comment), { target: { value: 'error budget intact' } });
    fireEvent.click(confirm);
    await waitFor(
      () =>
        expect(onDecide).toHaveBeenCalledWith(
          expect.objectContaining({ name: 'checkout' }),
          'promote',
          'error budget intact'
        ),
      SLOW
    );
  });

  it('shows the backend refusal in the dialog', async () => {
    const onDecide = jest.fn().mockRejectedValue(new Error('nothing to decide: shop/checkout is Succeeded'));
    render(<CanariesView stream={stream([canary()])} canDecide role="Editor" onDecide={onDecide} />);
    fireEvent.click(await screen.findByTestId(canaryIds.rollback, {}, SLOW));
    fireEvent.change(await screen.findByTestId(canaryIds.comment, {}, SLOW), { target: { value: 'abort' } });
    fireEvent.click(screen.getByTestId(canaryIds.confirm));
    expect(await screen.findByText(/nothing to decide/, {}, SLOW)).toBeInTheDocument();
  });

  it('keeps the buttons disabled below the sign-off role, and says who may decide', async () => {
    render(<CanariesView stream={stream([canary()])} canDecide={false} role="Admin" onDecide={jest.fn()} />);
    expect(await screen.findByTestId(canaryIds.promote, {}, SLOW)).toBeDisabled();
    expect(screen.getByTestId(canaryIds.rollback)).toBeDisabled();
    expect(screen.getByTestId(canaryIds.awaiting)).toHaveTextContent('Awaiting a decision (Admin or higher)');
  });

  it('says when there are no canaries, and when the state is stale', async () => {
    const { rerender } = render(
      routed(<CanariesView stream={stream([])} canDecide role="Editor" onDecide={jest.fn()} />)
    );
    expect(await screen.findByTestId(canaryIds.empty, {}, SLOW)).toBeInTheDocument();
    rerender(
      routed(
        <CanariesView
          stream={stream([canary({ phase: 'Failed', awaitingDecision: false })], "forbidden: apply deploy/'s RBAC")}
          canDecide
          role="Editor"
          onDecide={jest.fn()}
        />
      )
    );
    expect(await screen.findByTestId(canaryIds.notice, {}, SLOW)).toHaveTextContent("apply deploy/'s RBAC");
    expect(screen.queryByTestId(canaryIds.awaiting)).toBeNull();
    expect(screen.getByTestId(canaryIds.promote)).toBeDisabled();
  });
});
