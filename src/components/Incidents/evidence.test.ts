import {
  canaryText,
  decodeEvidence,
  decodeFindings,
  decodePack,
  formatValue,
  indexEvidence,
  metricText,
} from './evidence';
import { errorLinesQuery, evidenceLinks, metricQuery } from './evidenceLinks';
import { capture } from './__fixtures__/evidenceCapture';

function pane(href: string) {
  const u = new URL(href, 'http://grafana.example');
  expect(u.pathname).toBe('/explore');
  return JSON.parse(u.searchParams.get('panes')!).a;
}

describe('decodeEvidence', () => {
  it('decodes a capture as the backend writes it', () => {
    const ev = decodeEvidence(capture)!;
    expect(ev.capturedAt).toBe(Date.parse('2026-12-02T10:50:00Z'));
    expect(ev.topFinding).toBe('sidecar-memory-leak in shop/cart');
    expect(ev.partial).toEqual(['loki', 'tempo']);
    expect(ev.pack.window).toEqual({
      from: Date.parse('2026-12-02T10:30:00Z'),
      to: Date.parse('2026-12-02T10:50:00Z'),
      ruleFor: '5m0s',
    });
    expect(ev.pack.subject).toEqual({ namespace: 'shop', workload: 'cart' });
    expect(ev.pack.scope).toEqual([{ namespace: 'shop', workload: 'checkout', role: 'caller', via: undefined }]);
    expect(ev.pack.metrics[0]).toMatchObject({
      id: 'm1',
      kind: 'sidecar-memory',
      container: 'istio-proxy',
      unit: 'bytes',
      summary: { baseline: 52428800, last: 251658240, limit: 268435456, timeToLimit: '4m0s', points: 40 },
    });
    expect(ev.pack.logs[0]).toMatchObject({ id: 'l1', count: 37, example: expect.stringContaining('overflow') });
    expect(ev.pack.traces[0]).toMatchObject({ id: 't1', traceId: 'abc123', durationMs: 2300, error: true });
    expect(ev.findings.map((f) => [f.cause, f.workload, f.score])).toEqual([
      ['sidecar-memory-leak', 'cart', 0.92],
      ['upstream-dependency', 'checkout', 0.4],
    ]);
    expect(indexEvidence(ev.pack).get('l1')?.type).toBe('log');
  });

  it('accepts pack and findings as JSON text', () => {
    const ev = decodeEvidence({ pack: JSON.stringify(capture.pack), findings: JSON.stringify(capture.findings) })!;
    expect(ev.pack.metrics).toHaveLength(3);
    expect(ev.findings).toHaveLength(2);
  });

  it('never throws on malformed input: what is missing or mistyped is absent', () => {
    for (const bad of [undefined, null, 3, 'x', [], true]) {
      expect(decodeEvidence(bad)).toBeUndefined();
    }
    const ev = decodeEvidence({
      capturedAt: 12,
      pack: {
        window: { from: 'not a time', to: '0001-01-01T00:00:00Z' },
        subject: 'shop/cart',
        scope: 'all',
        metrics: [null, 4, { kind: 'cpu' }, { id: 'm', win: '3', last: NaN, n: 2, detail: { code: 503, flags: 'UT' } }],
        logs: [{ id: 'l', n: 'many', first: 7 }],
        traces: { id: 't' },
        partial: [{ error: 'no source' }, { source: 'loki' }],
      },
      findings: [{ cause: 7, evidence: ['a', 2, null] }, 'x', null],
      partial: 'loki',
    })!;
    expect(ev.capturedAt).toBeUndefined();
    expect(ev.pack.window).toEqual({ from: undefined, to: undefined, ruleFor: undefined });
    expect(ev.pack.subject).toBeUndefined();
    expect(ev.pack.scope).toEqual([]);
    expect(ev.pack.metrics).toEqual([
      expect.objectContaining({
        id: 'm',
        kind: '',
        detail: { flags: 'UT' },
        summary: expect.objectContaining({ window: undefined, last: undefined, points: 2 }),
      }),
    ]);
    expect(ev.pack.logs).toEqual([
      expect.objectContaining({ id: 'l', pattern: '', count: undefined, first: undefined }),
    ]);
    expect(ev.pack.traces).toEqual([]);
    expect(ev.partial).toEqual(['loki']);
    expect(ev.findings).toEqual([
      {
        cause: 'unknown',
        evidence: ['a'],
        namespace: undefined,
        workload: undefined,
        score: undefined,
        explanation: undefined,
      },
    ]);
    expect(decodePack('{not json')).toMatchObject({ metrics: [], logs: [], traces: [] });
    expect(decodeFindings({ 0: {} })).toEqual([]);
  });
});

describe('the canary in a pack', () => {
  it('decodes the subject canary, is citable by its id, and drops what it cannot read', () => {
    const pack = decodePack({
      canary: {
        id: 'k1',
        ns: 'team-a',
        name: 'web',
        target: 'web',
        phase: 'Failed',
        weight: 0,
        failed: 2,
        threshold: 2,
        checks: [{ name: 'request-success-rate', min: 99, value: 91.2, ok: false }, { min: 1 }],
        events: [{ at: '2026-12-02T10:40:00Z', msg: 'Canary failed! Scaling down web.team-a', warn: true }, { msg: 7 }],
      },
    });
    expect(pack.canary).toEqual({
      id: 'k1',
      namespace: 'team-a',
      name: 'web',
      target: 'web',
      phase: 'Failed',
      weight: 0,
      failedChecks: 2,
      threshold: 2,
      checks: [{ name: 'request-success-rate', min: 99, max: undefined, value: 91.2, passing: false }],
      events: [
        { at: Date.parse('2026-12-02T10:40:00Z'), message: 'Canary failed! Scaling down web.team-a', warning: true },
      ],
    });
    expect(indexEvidence(pack).get('k1')).toEqual({ type: 'canary', item: pack.canary });
    expect(canaryText(pack.canary!)).toBe('Flagger canary team-a/web: Failed, 2 of 2 failed checks');
    expect(decodePack({ canary: { name: 'no id' } }).canary).toBeUndefined();
    expect(decodePack({}).canary).toBeUndefined();
  });
});

describe('evidence text', () => {
  it('reads a metric summary as a change', () => {
    const ev = decodeEvidence(capture)!;
    const at = new Date(Date.parse('2026-12-02T10:42:00Z'));
    const hhmm = `${String(at.getHours()).padStart(2, '0')}:${String(at.getMinutes()).padStart(2, '0')}`;
    expect(metricText(ev.pack.metrics[1])).toBe(`p99 latency of checkout → cart 180 ms → 1.4 s, change at ${hhmm}`);
    expect(metricText(ev.pack.metrics[0])).toBe(
      `sidecar memory of cart 50 MiB → 240 MiB, change at ${hhmm}, limit 256 MiB, reached in 4m0s`
    );
    expect(formatValue(0.125, 'ratio')).toBe('12.5 %');
    expect(formatValue(undefined, 'ms')).toBe('—');
  });
});

describe('evidence links', () => {
  const jsonData = {
    prometheus: { datasourceUid: 'prom-uid' },
    loki: { datasourceUid: 'loki-uid' },
    tempo: { datasourceUid: 'tempo-uid' },
  };
  const ev = decodeEvidence(capture)!;
  const links = evidenceLinks(jsonData, ev.pack.subject, ev.pack.window);

  it('opens the subject’s error lines in Explore on the Loki datasource, over the window', () => {
    const p = pane(links.logs!);
    expect(p.datasource).toBe('loki-uid');
    expect(p.queries[0]).toMatchObject({ datasource: { uid: 'loki-uid' }, expr: errorLinesQuery('shop', 'cart') });
    expect(p.queries[0].expr).toMatch(/^\{namespace="shop", pod=~"cart-.*"\} \|~ "error\|/);
    expect(p.range).toEqual({ from: String(ev.pack.window.from), to: String(ev.pack.window.to) });
  });

  it('rebuilds a cited metric’s PromQL when its kind allows, and skips it otherwise', () => {
    expect(pane(links.metric(ev.pack.metrics[0])!).queries[0].expr).toBe(
      'max(container_memory_working_set_bytes{namespace="shop", pod=~"cart-[a-z0-9]+(-[a-z0-9]+)?", container="istio-proxy"})'
    );
    expect(metricQuery(ev.pack.metrics[1])).toBe(
      'histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{reporter="source", source_workload_namespace="shop", source_workload="checkout", destination_workload_namespace="shop", destination_workload="cart"}[5m])))'
    );
    expect(pane(links.metric(ev.pack.metrics[1])!).datasource).toBe('prom-uid');
    expect(links.metric(ev.pack.metrics[2])).toBeUndefined();
  });

  it('links traces to Tempo and the workload dashboard with the datasource variables', () => {
    expect(pane(links.trace('abc123')!).queries[0]).toMatchObject({
      datasource: { uid: 'tempo-uid' },
      query: 'abc123',
    });
    expect(links.dashboard('shop', 'cart')).toBe(
      '/d/meshwatch-workload?var-namespace=shop&var-workload=cart&var-datasource=prom-uid&var-loki=loki-uid&var-tempo=tempo-uid'
    );
  });

  it('has no Explore link without the datasource uid in the settings', () => {
    const none = evidenceLinks({}, ev.pack.subject, ev.pack.window);
    expect(none.logs).toBeUndefined();
    expect(none.metric(ev.pack.metrics[0])).toBeUndefined();
    expect(none.trace('abc123')).toBeUndefined();
    expect(none.dashboard('shop', 'cart')).toBe('/d/meshwatch-workload?var-namespace=shop&var-workload=cart');
  });
});
