import React from 'react';
import { Subject, of } from 'rxjs';
import { act, fireEvent, render, screen, within } from '@testing-library/react';
import { DataFrameJSON, FieldType, LiveChannelEvent, LiveChannelEventType } from '@grafana/data';
import { config, getBackendSrv, getGrafanaLiveSrv } from '@grafana/runtime';
import { testIds } from '../testIds';
import { WriteUpView } from './WriteUp';
import { EvidenceItem, decodePack, indexEvidence } from './evidence';
import { capture } from './__fixtures__/evidenceCapture';

jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getGrafanaLiveSrv: jest.fn(),
  getBackendSrv: jest.fn(),
}));

const SLOW = { timeout: 10_000 };

let events: Subject<LiveChannelEvent<unknown>>;
let getStream: jest.Mock;
let posts: string[];

/** One packet of analysis/<id>, as pkg/analyses' Frame encodes it. */
const packet = (response: object): LiveChannelEvent<unknown> => ({
  type: LiveChannelEventType.Message,
  message: {
    schema: {
      name: 'analysis',
      fields: [
        { name: 'response', type: FieldType.other },
        { name: 'updatedAt', type: FieldType.time },
      ],
    },
    data: { values: [[response], [Date.now()]] },
  } as DataFrameJSON,
});

const index: Map<string, EvidenceItem> = indexEvidence(decodePack((capture as { pack: unknown }).pack));
const [metricId] = [...index.entries()].find(([, v]) => v.type === 'metric')!;

const answer = {
  summary: 'The istio-proxy sidecar of shop/cart leaks memory and will reach its limit in about 20 minutes.',
  rootCause: {
    namespace: 'shop',
    workload: 'cart',
    cause: 'sidecar-memory-leak',
    explanation: 'Sidecar memory grows steadily towards its limit.',
    evidence: [metricId],
  },
  confidence: 'high',
  remediation: [
    {
      action: 'Restart the cart Deployment',
      why: 'A restart frees the leaked memory.',
      command: 'kubectl rollout restart deployment/cart -n shop',
      evidence: [metricId],
      risk: 'low',
    },
    {
      action: 'Delete the namespace',
      why: 'Start over.',
      command: 'kubectl delete ns shop',
      evidence: [],
      risk: 'high',
    },
    { action: 'Scale the ghost service', why: 'It may help.', evidence: ['nope-1'], risk: 'medium' },
  ],
};

const guard = {
  rootCause: { supported: true, cited: [metricId] },
  steps: [
    {
      supported: true,
      cited: [metricId],
      runnable: true,
      action: { kind: 'rollout-restart', namespace: 'shop', name: 'cart' },
    },
    {
      supported: false,
      cited: [],
      reasons: ['cites no evidence'],
      runnable: false,
      commandReason: 'not on the allowlist',
    },
    { supported: false, cited: [], unknown: ['nope-1'], unknownWorkloads: ['shop/ghost'], runnable: false },
  ],
  unsupported: 2,
  flagged: 1,
};

const analysis = (result: object) => ({
  id: 3,
  incidentId: 5,
  evidenceAt: '2026-12-02T10:40:00Z',
  startedAt: '2026-12-02T10:40:01Z',
  finishedAt: '2026-12-02T10:40:03Z',
  model: 'phi3:mini',
  basis: 'shop/cart sidecar-memory-leak',
  outcome: 'done',
  result,
});

function setup() {
  const view = render(<WriteUpView incidentId={5} index={index} />);
  const push = (evt: LiveChannelEvent<unknown>) => act(() => events.next(evt));
  return { ...view, push };
}

beforeAll(() => {
  global.CSS ??= { escape: (s: string) => s } as unknown as typeof CSS;
  Element.prototype.scrollIntoView ??= jest.fn();
});

beforeEach(() => {
  events = new Subject();
  getStream = jest.fn(() => events.asObservable());
  (getGrafanaLiveSrv as jest.Mock).mockReturnValue({ getStream });
  posts = [];
  (getBackendSrv as jest.Mock).mockReturnValue({
    fetch: (c: { url: string; method?: string }) => {
      if (c.url.includes('/signoff/')) {
        // The sign-off panel beneath a finished write-up (SignOff.test.tsx tests it).
        return of({ data: c.url.endsWith('/audit') ? { entries: [], chainOk: true } : [], status: 200 });
      }
      posts.push(`${c.method} ${c.url}`);
      return of({ data: {}, status: 202 });
    },
  });
  config.bootData = {
    ...config.bootData,
    user: { ...config.bootData?.user, orgRole: 'Viewer' },
  } as typeof config.bootData;
});

describe('WriteUpView', () => {
  it('joins the incident’s own channel and shows the queue position, then the summary as the model writes it', async () => {
    const { push } = setup();
    expect(getStream).toHaveBeenCalledWith(expect.objectContaining({ path: 'analysis/5' }));
    push(packet({ incidentId: 5, state: 'queued', position: 2 }));
    expect(await screen.findByTestId(testIds.incidents.writeUpQueue, {}, SLOW)).toHaveTextContent('2 analyses ahead');
    push(
      packet({
        incidentId: 5,
        state: 'writing',
        text: '{"summary":"The istio-proxy sidecar of shop/cart le',
        summary: 'The istio-proxy sidecar of shop/cart le',
      })
    );
    const streaming = await screen.findByTestId(testIds.incidents.writeUpStreaming, {}, SLOW);
    expect(streaming).toHaveTextContent('The istio-proxy sidecar of shop/cart le');
    expect(streaming).not.toHaveTextContent('{"summary"');
    // A packet about another incident is not this one's.
    push(packet({ incidentId: 6, state: 'queued', position: 1 }));
    expect(screen.getByTestId(testIds.incidents.writeUpStreaming)).toBeInTheDocument();
  });

  it('shows the answer with citations, marks unsupported and flagged claims, and offers only allowlisted commands', async () => {
    const { push } = setup();
    push(
      packet({
        incidentId: 5,
        state: 'done',
        analysis: analysis({
          status: 'done',
          answer,
          guard,
          model: 'phi3:mini',
          tokens: { estimate: 1200, prompt: 1180, output: 210 },
          timings: { totalMs: 2100 },
        }),
      })
    );
    const ans = await screen.findByTestId(testIds.incidents.writeUpAnswer, {}, SLOW);
    expect(screen.getByText('AI suggestion: pending sign-off')).toBeInTheDocument();
    expect(ans).toHaveTextContent('leaks memory and will reach its limit');
    expect(within(ans).getByText('sidecar-memory-leak')).toBeInTheDocument();
    const steps = screen.getAllByTestId(testIds.incidents.writeUpStep);
    expect(steps).toHaveLength(3);
    expect(steps[0]).toHaveTextContent('On the allowlist');
    expect(within(steps[0]).queryByTestId(testIds.incidents.writeUpUnsupported)).toBeNull();
    expect(steps[1]).toHaveTextContent('Advice only, never a button: not on the allowlist');
    expect(within(steps[1]).getByTestId(testIds.incidents.writeUpUnsupported)).toBeInTheDocument();
    expect(within(steps[2]).getByTestId(testIds.incidents.writeUpFlagged)).toHaveTextContent('shop/ghost');
    expect(screen.getByTestId(testIds.incidents.writeUpMeta)).toHaveTextContent(
      '1200 tokens estimated, 1180 counted by Ollama'
    );
    // Its suggestions await sign-off beneath it.
    expect(await screen.findByTestId('signoff-panel', {}, SLOW)).toBeInTheDocument();
    // An unknown citation unfolds that it is not in the evidence; a known one jumps to it.
    fireEvent.click(within(steps[2]).getByText('nope-1'));
    expect(steps[2]).toHaveTextContent('nope-1: not in the captured evidence');
    const target = document.createElement('div');
    target.setAttribute('data-evidence-id', metricId);
    target.scrollIntoView = jest.fn();
    document.body.appendChild(target);
    fireEvent.click(within(steps[0]).getByText(metricId));
    expect(target.scrollIntoView).toHaveBeenCalled();
    target.remove();
  });

  it('says why there is no write-up, and the findings stand', async () => {
    const { push } = setup();
    push(
      packet({
        incidentId: 5,
        state: 'failed',
        analysis: {
          ...analysis({
            status: 'fallback',
            fallback: 'the findings stand',
            error: { kind: 'down', message: 'Ollama at http://10.0.0.5:11434 is down: connection refused' },
          }),
          outcome: 'failed',
        },
      })
    );
    expect(await screen.findByTestId(testIds.incidents.writeUpFallback, {}, SLOW)).toHaveTextContent(
      'connection refused'
    );
    // No answer, no AI suggestion to sign off.
    expect(screen.queryByText('AI suggestion: pending sign-off')).toBeNull();
    push(
      packet({
        incidentId: 5,
        state: 'unavailable',
        unavailable: 'no LLM writes root-cause analyses: ollama.url is empty',
      })
    );
    expect(await screen.findByText(/ollama.url is empty/, {}, SLOW)).toBeInTheDocument();
    expect(screen.queryByText('AI suggestion: pending sign-off')).toBeNull();
  });

  it('lets Editors ask for a fresh write-up, not Viewers', async () => {
    const { push, unmount } = setup();
    push(packet({ incidentId: 5, state: 'none' }));
    await screen.findByTestId(testIds.incidents.writeUpNone, {}, SLOW);
    expect(screen.queryByRole('button', { name: /Analyse again/ })).toBeNull();
    unmount();
    config.bootData = {
      ...config.bootData,
      user: { ...config.bootData.user, orgRole: 'Editor' },
    } as typeof config.bootData;
    const second = setup();
    second.push(packet({ incidentId: 5, state: 'none' }));
    fireEvent.click(await screen.findByRole('button', { name: /Analyse again/ }, SLOW));
    expect(posts).toEqual(['POST /api/plugins/meshwatch-mesh-app/resources/incidents/5/analysis']);
  });
});
