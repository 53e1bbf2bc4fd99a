import {
  MAX_SERIES,
  type SeriesInput,
  changePointsOf,
  gapsOf,
  round3,
  summarizePanel,
  summarizeSeries,
  trendOf,
} from './summarize';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);

/** A deterministic wobble in [-1, 1] (no Math.random: the tests must not flake). */
const wobble = (i: number) => Math.sin(i * 12.9898) * 0.6 + Math.sin(i * 78.233) * 0.4;

function series(values: Array<number | null>, opts: Partial<SeriesInput> = {}): SeriesInput {
  return {
    refId: 'A',
    name: 'x',
    times: values.map((_, i) => T0 + i * MIN),
    values,
    ...opts,
  };
}

const pts = (values: number[]) => values.map((v, i) => ({ t: T0 + i * MIN, v }));
const at = (i: number) => new Date(T0 + i * MIN).toISOString().replace('.000Z', 'Z');

/** n points: level + noise·wobble, then `then` from index k on. */
function step(n: number, k: number, level: number, then: number, noise: number): number[] {
  return Array.from({ length: n }, (_, i) => (i < k ? level : then) + noise * wobble(i));
}

describe('summarizeSeries: the basic figures', () => {
  it('counts the valued points and takes min, max, mean, first and last over them', () => {
    const s = summarizeSeries(series([4, null, 2, 8, NaN, 6]));
    expect(s).toMatchObject({ points: 4, min: 2, max: 8, mean: 5, first: 4, last: 6 });
  });

  it('reads points in time order whatever order they come in', () => {
    const s = summarizeSeries({ refId: 'A', name: 'x', times: [T0 + 2 * MIN, T0, T0 + MIN], values: [3, 1, 2] });
    expect(s).toMatchObject({ first: 1, last: 3 });
  });

  it('rounds to three significant digits', () => {
    expect(round3(1234.5678)).toBe(1230);
    expect(round3(0.00123456)).toBe(0.00123);
    expect(summarizeSeries(series([1 / 3, 2 / 3])).mean).toBe(0.5);
  });

  it('an empty series has no figures, no trend and no change points', () => {
    const s = summarizeSeries(series([]));
    expect(s).toMatchObject({ points: 0, trend: { direction: 'flat' } });
    expect(s.changePoints).toBeUndefined();
    expect(s.gaps).toBeUndefined();
  });

  it('a series of nulls over a time range is one gap across it', () => {
    const s = summarizeSeries(series([null, null, null, null, null]), { from: T0, to: T0 + 4 * MIN });
    expect(s.points).toBe(0);
    expect(s.gaps).toEqual([{ from: at(0), to: at(4) }]);
  });
});

describe('trend', () => {
  it('a steady rise is rising, with its slope per hour', () => {
    // +0.5 per minute over an hour from 100: 30 per hour.
    const t = trendOf(pts(Array.from({ length: 61 }, (_, i) => 100 + 0.5 * i + 0.3 * wobble(i))));
    expect(t.direction).toBe('rising');
    expect(t.slopePerHour).toBeCloseTo(30, 0);
  });

  it('a fall is falling', () => {
    expect(trendOf(pts(Array.from({ length: 30 }, (_, i) => 50 - i))).direction).toBe('falling');
  });

  it('noise around a level is flat, however large the level', () => {
    expect(trendOf(pts(Array.from({ length: 60 }, (_, i) => 1e6 + 1e4 * wobble(i)))).direction).toBe('flat');
    expect(trendOf(pts(Array.from({ length: 60 }, (_, i) => 1e-6 + 1e-8 * wobble(i)))).direction).toBe('flat');
  });

  it('a drift that is small against the level is flat; the same drift on a small level is not', () => {
    // +2 over the hour: nothing on a level of 1000, a doubling on a level of 2.
    const drift = (level: number) => Array.from({ length: 61 }, (_, i) => level + (2 * i) / 60);
    expect(trendOf(pts(drift(1000))).direction).toBe('flat');
    expect(trendOf(pts(drift(2))).direction).toBe('rising');
  });

  it('judges series of very different scales alike', () => {
    const shape = (i: number) => 1 + 0.01 * i + 0.02 * wobble(i);
    for (const scale of [1e-4, 1, 1e6]) {
      const t = trendOf(pts(Array.from({ length: 60 }, (_, i) => scale * shape(i))));
      expect(t.direction).toBe('rising');
      expect(t.slopePerHour / scale).toBeCloseTo(0.6, 1);
    }
  });
});

describe('change points', () => {
  it('finds a level shift, when it happened, and the levels before and after', () => {
    const cps = changePointsOf(pts(step(60, 40, 100, 160, 2)));
    expect(cps).toHaveLength(1);
    expect(cps[0].at).toBe(at(40));
    expect(cps[0].before).toBeCloseTo(100, -1);
    expect(cps[0].after).toBeCloseTo(160, -1);
  });

  it('finds a spike that recovers as two shifts: up and back down', () => {
    const v = Array.from({ length: 90 }, (_, i) => (i >= 30 && i < 60 ? 10 : 1) + 0.1 * wobble(i));
    const cps = changePointsOf(pts(v));
    expect(cps.map((c) => c.at)).toEqual([at(30), at(60)]);
    expect(cps[0].after).toBeGreaterThan(cps[0].before);
    expect(cps[1].after).toBeLessThan(cps[1].before);
  });

  it('finds a shift a few points before the end (what changed just now)', () => {
    const cps = changePointsOf(pts(step(60, 56, 20, 5, 0.3)));
    expect(cps.map((c) => c.at)).toEqual([at(56)]);
  });

  it('a steady ramp is a trend, not a change point', () => {
    expect(changePointsOf(pts(Array.from({ length: 60 }, (_, i) => 100 + 5 * i + wobble(i))))).toEqual([]);
  });

  it('a smooth wave is not a change point', () => {
    expect(changePointsOf(pts(Array.from({ length: 61 }, (_, i) => 12 + 2.5 * Math.sin(i / 6))))).toEqual([]);
  });

  it('noise is not a change point', () => {
    expect(changePointsOf(pts(Array.from({ length: 120 }, (_, i) => 50 + 5 * wobble(i))))).toEqual([]);
  });

  it('a shift small against the level is not one, even on a quiet series', () => {
    expect(changePointsOf(pts(step(60, 30, 1000, 1050, 0.1)))).toEqual([]);
  });

  it('a shift within the noise is not one', () => {
    expect(changePointsOf(pts(step(60, 30, 10, 14, 8)))).toEqual([]);
  });

  it('is scale-free: the same shape shifts at the same point on any scale', () => {
    for (const scale of [1e-6, 1, 1e9]) {
      const cps = changePointsOf(pts(step(60, 25, 3, 5, 0.05).map((v) => v * scale)));
      expect(cps.map((c) => c.at)).toEqual([at(25)]);
      expect(cps[0].after / cps[0].before).toBeCloseTo(5 / 3, 1);
    }
  });

  it('finds a shift in a long series too (the scan is downsampled)', () => {
    const cps = changePointsOf(pts(step(5000, 3000, 1, 2, 0.02)));
    expect(cps).toHaveLength(1);
    expect(Math.abs(Date.parse(cps[0].at) - (T0 + 3000 * MIN))).toBeLessThanOrEqual(21 * MIN);
  });
});

describe('gaps', () => {
  it('a run of nulls longer than two steps is a gap, from the last value to the next', () => {
    const v: Array<number | null> = Array.from({ length: 30 }, (_, i) => (i >= 10 && i < 15 ? null : 5));
    expect(summarizeSeries(series(v)).gaps).toEqual([{ from: at(9), to: at(15) }]);
  });

  it('a missing point or two is not a gap', () => {
    const v: Array<number | null> = Array.from({ length: 30 }, (_, i) => (i === 10 || i === 20 || i === 21 ? null : 5));
    expect(summarizeSeries(series(v)).gaps).toBeUndefined();
  });

  it('missing timestamps count as well as nulls', () => {
    const times = [0, 1, 2, 3, 10, 11, 12].map((i) => T0 + i * MIN);
    const s = summarizeSeries({ refId: 'A', name: 'x', times, values: times.map(() => 1) });
    expect(s.gaps).toEqual([{ from: at(3), to: at(10) }]);
  });

  it('a series that stopped reporting has a gap to the end of the range', () => {
    const v = Array.from({ length: 20 }, () => 3);
    expect(summarizeSeries(series(v), { from: T0, to: T0 + 60 * MIN }).gaps).toEqual([{ from: at(19), to: at(60) }]);
  });

  it('keeps the five longest, in time order', () => {
    const p = [0, 4, 9, 15, 22, 30, 39, 49].map((i) => ({ t: T0 + i * MIN, v: 1 }));
    const g = gapsOf(p, MIN);
    expect(g).toHaveLength(5);
    expect(g[0]).toEqual({ from: at(9), to: at(15) });
    expect(g[4]).toEqual({ from: at(39), to: at(49) });
  });
});

describe('summarizePanel: the budget', () => {
  const flat = (name: string, level: number) => series(step(60, 0, level, level, level * 0.01), { name });

  it('keeps at most MAX_SERIES series, the most changed first, and counts the others', () => {
    const inputs = Array.from({ length: 300 }, (_, i) => flat(`flat-${i}`, 10 + i));
    inputs[123] = series(step(60, 40, 10, 30, 0.2), { name: 'jumped' });
    inputs[250] = series(
      Array.from({ length: 60 }, (_, i) => 1e-3 * (1 + i / 20)),
      { name: 'climbing' }
    );
    const out = summarizePanel(inputs);
    expect(out.series).toHaveLength(MAX_SERIES);
    expect(out.omittedSeries).toBe(300 - MAX_SERIES);
    expect(
      out.series
        .slice(0, 2)
        .map((s) => s.name)
        .sort()
    ).toEqual(['climbing', 'jumped']);
    expect(out.series.map((s) => s.id)).toEqual(Array.from({ length: MAX_SERIES }, (_, i) => `s${i + 1}`));
  });

  it('judges change relative to each series’ own level: a large number that barely moved ranks below a small one that tripled', () => {
    const out = summarizePanel([
      series(step(60, 30, 1e6, 1.01e6, 100), { name: 'big' }),
      series(step(60, 30, 0.001, 0.003, 0.00001), { name: 'small' }),
    ]);
    expect(out.series.map((s) => s.name)).toEqual(['small', 'big']);
    expect(out.series[0].changePoints).toHaveLength(1);
    expect(out.series[1].changePoints).toBeUndefined();
  });

  it('sends no raw points, whatever the series’ length, and fits the backend’s 64 KiB body', () => {
    const inputs = Array.from({ length: 500 }, (_, i) =>
      series(
        Array.from({ length: 2000 }, (_, j) => i + wobble(i * 7 + j)),
        { name: `pod-${i}-${'x'.repeat(400)}`, labels: { pod: `pod-${i}`, long: 'y'.repeat(1000) } }
      )
    );
    const out = summarizePanel(inputs);
    const json = JSON.stringify(out);
    expect(json.length).toBeLessThan(64 << 10);
    for (const s of out.series) {
      expect(Object.keys(s)).not.toContain('values');
      expect(Object.keys(s)).not.toContain('times');
      expect(s.name.length).toBeLessThanOrEqual(200);
    }
  });

  it('an empty panel has no series and nothing omitted', () => {
    expect(summarizePanel([])).toEqual({ series: [], omittedSeries: 0 });
  });
});
