import React from 'react';
import { render, screen, within, fireEvent, waitFor } from '@testing-library/react';
import { of, throwError } from 'rxjs';
import { config, getBackendSrv } from '@grafana/runtime';
import type { Review, Trail, DecideRequest } from '../../api/wire/signoff';
import { SignOffPanel } from './SignOffPanel';
import { describeAction } from './SuggestionReview';
import { subjectLabel } from './AuditTrail';

jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getBackendSrv: jest.fn(),
}));

// @grafana/ui renders slowly on a busy 2-core machine.
const SLOW = { timeout: 10_000 };

const actor = { login: 'meshwatch', name: 'MeshWatch', role: 'system' };
const review = (step: number, over: Partial<Review> = {}): Review => ({
  key: `7:3:${step === 0 ? 'root' : step}`,
  suggestion: {
    incident: 7,
    analysis: '3',
    step,
    text: step === 0 ? 'payments leaks memory since 1.4.2' : 'Restart payments to free memory now',
    ...(step === 2 ? { action: { kind: 'restart', namespace: 'shop', name: 'payments' } } : {}),
  },
  status: 'pending',
  version: 1,
  updatedAt: '2026-12-02T05:00:00Z',
  by: actor,
  executable: false,
  ...over,
});

type Call = { url: string; method?: string; data?: unknown };

/** A backend that answers the sign-off routes as pkg/signoff does, for one incident's suggestions. */
function backend(reviews: Review[], opts: { conflictOn?: string } = {}) {
  const calls: Call[] = [];
  const trail: Trail = { entries: [], chainOk: true };
  (getBackendSrv as jest.Mock).mockReturnValue({
    fetch: (req: Call) => {
      calls.push(req);
      const url = req.url.replace(/^.*\/resources/, '');
      if (url === '/signoff/incidents/7/suggestions') {
        return of({ data: reviews, status: 200 });
      }
      if (url === '/signoff/incidents/7/audit') {
        return of({ data: trail, status: 200 });
      }
      const m = url.match(/^\/signoff\/suggestions\/([^/]+)\/decision$/);
      if (m) {
        const key = decodeURIComponent(m[1]);
        const d = req.data as DecideRequest;
        const i = reviews.findIndex((r) => r.key === key);
        if (opts.conflictOn === key) {
          // Someone else approved it a moment earlier.
          reviews[i] = {
            ...reviews[i],
            status: 'approved',
            version: 2,
            by: { login: 'erin', name: 'Erin', role: 'Editor' },
          };
        }
        if (reviews[i].version !== d.version) {
          return throwError(() => ({
            status: 409,
            data: {
              error: 'conflict',
              detail: 'someone decided first: the suggestion is now approved (version 2, by erin)',
            },
          }));
        }
        const status = { approve: 'approved', reject: 'rejected', edit: 'edited' }[d.decision]!;
        reviews[i] = {
          ...reviews[i],
          status,
          version: d.version + 1,
          by: { login: 'eddie', name: 'Eddie', role: 'Editor' },
        };
        trail.entries.push({
          seq: trail.entries.length + 1,
          at: '2026-12-02T05:01:00Z',
          actor: reviews[i].by,
          action: d.decision,
          subject: key,
          comment: d.comment,
          prev: '',
          hash: 'h',
        });
        return of({ data: reviews[i], status: 200 });
      }
      const x = url.match(/^\/signoff\/suggestions\/([^/]+)\/execute$/);
      if (x) {
        const i = reviews.findIndex((r) => r.key === decodeURIComponent(x[1]));
        const result = {
          ok: true,
          summary: 'rollout restart deployment shop/payments: restartedAt 2026-12-02T05:30:00Z',
          status: 200,
        };
        reviews[i] = { ...reviews[i], status: 'executed', version: reviews[i].version + 2, executable: false, result };
        return of({ data: { review: reviews[i], result }, status: 200 });
      }
      return throwError(() => ({ status: 404, data: { error: 'not found' } }));
    },
  });
  return calls;
}

function setRole(role: string) {
  config.bootData.user.orgRole = role as typeof config.bootData.user.orgRole;
}

afterEach(() => jest.restoreAllMocks());

describe('SignOffPanel', () => {
  it('shows each suggestion with its status and lets an Editor approve with the version it saw', async () => {
    setRole('Editor');
    const calls = backend([review(0), review(2)]);
    render(<SignOffPanel incidentId={7} />);
    const root = await screen.findByTestId('signoff-review-7:3:root', {}, SLOW);
    expect(within(root).getByText('payments leaks memory since 1.4.2')).toBeInTheDocument();
    expect(within(root).getByText('Awaiting sign-off')).toBeInTheDocument();
    expect(screen.getByTestId('signoff-pending-count')).toHaveTextContent('2 awaiting sign-off');
    expect(
      within(screen.getByTestId('signoff-review-7:3:2')).getByText(/Rollout restart of deployment shop\/payments/)
    ).toBeInTheDocument();

    fireEvent.change(within(root).getByLabelText('Comment on Root cause'), {
      target: { value: 'matches the heap graph' },
    });
    fireEvent.click(within(root).getByRole('button', { name: /Approve/ }));
    await waitFor(
      () => expect(within(screen.getByTestId('signoff-review-7:3:root')).getByText('Approved')).toBeInTheDocument(),
      SLOW
    );
    const decision = calls.find((c) => c.method === 'POST');
    expect(decision?.url).toMatch(/\/signoff\/suggestions\/7%3A3%3Aroot\/decision$/);
    expect(decision?.data).toEqual({ decision: 'approve', version: 1, comment: 'matches the heap graph' });
    // The trail shows the decision, who made it and why.
    expect(await screen.findByText(/matches the heap graph/, {}, SLOW)).toBeInTheDocument();
  });

  it('shows only the write-up’s own suggestions when given its analysis', async () => {
    setRole('Editor');
    const older: Review = {
      ...review(0),
      key: '7:2:root',
      suggestion: { ...review(0).suggestion, analysis: '2', text: 'an earlier write-up’s root cause' },
    };
    backend([older, review(0), review(2)]);
    render(<SignOffPanel incidentId={7} analysisId="3" />);
    await screen.findByTestId('signoff-review-7:3:root', {}, SLOW);
    expect(screen.queryByTestId('signoff-review-7:2:root')).toBeNull();
    expect(screen.getByTestId('signoff-pending-count')).toHaveTextContent('2 awaiting sign-off');
  });

  it('needs a comment to reject', async () => {
    setRole('Admin');
    backend([review(0)]);
    render(<SignOffPanel incidentId={7} />);
    const root = await screen.findByTestId('signoff-review-7:3:root', {}, SLOW);
    const reject = within(root).getByRole('button', { name: /Reject/ });
    expect(reject).toBeDisabled();
    fireEvent.change(within(root).getByLabelText('Comment on Root cause'), { target: { value: 'it is the pool' } });
    expect(reject).toBeEnabled();
  });

  it('says so when someone decided first (409) instead of overwriting', async () => {
    setRole('Editor');
    backend([review(0)], { conflictOn: '7:3:root' });
    render(<SignOffPanel incidentId={7} />);
    const root = await screen.findByTestId('signoff-review-7:3:root', {}, SLOW);
    fireEvent.click(within(root).getByRole('button', { name: /Approve/ }));
    expect(await screen.findByText(/someone decided first/, {}, SLOW)).toBeInTheDocument();
    // The page reloads what stands now, and keeps saying why nothing was recorded.
    await waitFor(
      () => expect(within(screen.getByTestId('signoff-review-7:3:root')).getByText('Approved')).toBeInTheDocument(),
      SLOW
    );
    expect(screen.getByTestId('signoff-review-7:3:root-error')).toHaveTextContent('by erin');
  });

  it('shows a Viewer the decisions without controls', async () => {
    setRole('Viewer');
    backend([review(0), review(2, { status: 'approved', version: 2, executable: true })]);
    render(<SignOffPanel incidentId={7} />);
    const step = await screen.findByTestId('signoff-review-7:3:2', {}, SLOW);
    expect(within(step).getByText('Approved')).toBeInTheDocument();
    expect(within(step).getByTestId('signoff-review-7:3:2-readonly')).toHaveTextContent('needs the Editor role');
    expect(screen.queryByRole('button', { name: /Approve|Reject|Execute/ })).not.toBeInTheDocument();
  });

  it('offers Execute only on an approved, executable step', async () => {
    setRole('Editor');
    backend([
      review(1, { status: 'approved', version: 2 }),
      review(2, { status: 'approved', version: 2, executable: true }),
    ]);
    render(<SignOffPanel incidentId={7} />);
    const advice = await screen.findByTestId('signoff-review-7:3:1', {}, SLOW);
    expect(within(advice).queryByRole('button', { name: /Execute/ })).not.toBeInTheDocument();
    const step = screen.getByTestId('signoff-review-7:3:2');
    fireEvent.click(within(step).getByRole('button', { name: /Execute/ }));
    expect(await screen.findByTestId('signoff-review-7:3:2-result', {}, SLOW)).toHaveTextContent('restartedAt');
    await waitFor(() => expect(within(step).getByText('Executed')).toBeInTheDocument(), SLOW);
    expect(within(step).queryByRole('button', { name: /Execute/ })).not.toBeInTheDocument();
  });
});

describe('labels', () => {
  it('reads actions and subjects as a person would', () => {
    expect(describeAction({ kind: 'scale', namespace: 'shop', name: 'cart', replicas: 3 })).toBe(
      'Scale deployment shop/cart to 3 replicas'
    );
    expect(describeAction({ kind: 'gate', namespace: 'shop', name: 'payments', gate: 'rollback', op: 'open' })).toBe(
      'Open the rollback gate of canary shop/payments'
    );
    expect(subjectLabel('7:3:root')).toBe('root cause (analysis 3)');
    expect(subjectLabel('7:3:2')).toBe('step 2 (analysis 3)');
    expect(subjectLabel('gate:gate/shop/payments')).toBe('gate:gate/shop/payments');
  });
});
