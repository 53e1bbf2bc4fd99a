/**
 * The deterministic summary of a panel's series that "Explain this panel"
 * shows at once and sends to the backend instead of the points: per series
 * its min, max, mean, first, last, point count, linear trend, level shifts
 * (change points) and gaps, under a size budget like the evidence pack's.
 *
 * Everything is judged relative to the series' own level and noise, so a
 * request rate of 1200/s and an error ratio of 0.002 are held to the same
 * standard. Nothing here needs a model; with no LLM this is the answer.
 */
import {
  DirectionFalling,
  DirectionFlat,
  DirectionRising,
  type ChangePoint,
  type Gap,
  type Series,
  type Trend,
} from '../api/wire/explain';

/** One series as read from a panel's frames (or from explain/data): its points, in any order. */
export interface SeriesInput {
  refId: string;
  name: string;
  labels?: Record<string, string>;
  unit?: string;
  /** Unix ms. */
  times: number[];
  /** null (or a non-finite number) where the series has no value. */
  values: Array<number | null | undefined>;
}

/** Tunables of the summary. */
export const MAX_SERIES = 20;
/** The fewest points on each side of a change point. */
export const MIN_SEGMENT = 3;
/** The most points on each side a change point is judged on (the change is local). */
export const MAX_WINDOW = 12;
/** A level shift must move the series by this share of the larger level around it. */
export const MIN_RELATIVE_CHANGE = 0.2;
/** A level shift must also be this many times the series' noise. */
export const NOISE_MULTIPLE = 3;
/** A step must explain the points around it this much better than a straight line (else it is a ramp or a wave). */
export const STEP_OVER_LINE = 0.5;
/** A trend must move the series by this share of its level over the range to be rising or falling. */
export const MIN_RELATIVE_TREND = 0.1;
/** More than this many points missing in a row is a gap. */
export const GAP_STEPS = 2;
/** At most this many change points and gaps per series (the largest). */
export const MAX_CHANGE_POINTS = 5;
export const MAX_GAPS = 5;
/** Longest series name and label value sent. */
const MAX_TEXT = 200;
/** Series are downsampled (bucket means) to at most this many points before change points are looked for. */
const MAX_SCAN_POINTS = 240;

interface Pt {
  t: number;
  v: number;
}

/** A number to 3 significant digits (what the summary shows and sends). */
export function round3(x: number): number {
  if (!Number.isFinite(x) || x === 0) {
    return Number.isFinite(x) ? 0 : x;
  }
  return Number(x.toPrecision(3));
}

/** Unix ms as RFC 3339 (UTC, to the second). */
export const rfc3339 = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

const cut = (s: string) => (s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT - 1)}…` : s);

function mean(p: Pt[], from = 0, to = p.length): number {
  let s = 0;
  for (let i = from; i < to; i++) {
    s += p[i].v;
  }
  return s / (to - from);
}

function median(xs: number[]): number {
  if (!xs.length) {
    return 0;
  }
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * The noise of a series: the standard deviation of its sample-to-sample
 * wobble, estimated robustly from the successive differences (their median
 * absolute deviation), which neither a trend nor a few steps inflate.
 */
export function noiseSD(p: Pt[]): number {
  if (p.length < 3) {
    return 0;
  }
  const d = p.slice(1).map((x, i) => x.v - p[i].v);
  const md = median(d);
  return (1.4826 * median(d.map((x) => Math.abs(x - md)))) / Math.SQRT2;
}

/** Least-squares slope (per ms) and its fit's sum of squared errors over p[from, to). */
function lineFit(p: Pt[], from = 0, to = p.length): { slope: number; sse: number } {
  const n = to - from;
  if (n < 2) {
    return { slope: 0, sse: 0 };
  }
  const t0 = p[from].t;
  let st = 0;
  let sy = 0;
  let stt = 0;
  let sty = 0;
  let syy = 0;
  for (let i = from; i < to; i++) {
    const t = p[i].t - t0;
    st += t;
    sy += p[i].v;
    stt += t * t;
    sty += t * p[i].v;
    syy += p[i].v * p[i].v;
  }
  const vt = stt - (st * st) / n;
  const vy = syy - (sy * sy) / n;
  const cov = sty - (st * sy) / n;
  if (vt <= 1e-12) {
    return { slope: 0, sse: Math.max(0, vy) };
  }
  const slope = cov / vt;
  return { slope, sse: Math.max(0, vy - slope * cov) };
}

function sse(p: Pt[], from: number, to: number): number {
  const m = mean(p, from, to);
  let s = 0;
  for (let i = from; i < to; i++) {
    s += (p[i].v - m) ** 2;
  }
  return s;
}

/** The level a series' changes are judged against: the larger of its mean's size and its range. */
function levelOf(p: Pt[], lo: number, hi: number): number {
  return Math.max(Math.abs(mean(p)), hi - lo);
}

/**
 * The linear trend: least-squares slope per hour; rising or falling only when
 * it moves the series over its time span by MIN_RELATIVE_TREND of its level
 * (the larger of the mean's size and the range) and by more than its noise.
 */
export function trendOf(p: Pt[]): Trend {
  if (p.length < 2) {
    return { slopePerHour: 0, direction: DirectionFlat };
  }
  const { slope } = lineFit(p);
  const perHour = slope * 3600_000;
  let lo = Infinity;
  let hi = -Infinity;
  p.forEach((x) => {
    lo = Math.min(lo, x.v);
    hi = Math.max(hi, x.v);
  });
  const rise = slope * (p[p.length - 1].t - p[0].t);
  const level = levelOf(p, lo, hi);
  const moved = level > 0 && Math.abs(rise) >= MIN_RELATIVE_TREND * level && Math.abs(rise) > noiseSD(p);
  return {
    slopePerHour: round3(perHour),
    direction: !moved ? DirectionFlat : rise > 0 ? DirectionRising : DirectionFalling,
  };
}

/** Bucket means: at most `max` points, each the mean of a run of neighbours (times: the run's first). */
function downsample(p: Pt[], max: number): Pt[] {
  if (p.length <= max) {
    return p;
  }
  const per = Math.ceil(p.length / max);
  const out: Pt[] = [];
  for (let i = 0; i < p.length; i += per) {
    const end = Math.min(p.length, i + per);
    out.push({ t: p[i].t, v: mean(p, i, end) });
  }
  return out;
}

/**
 * Level shifts. Each point k is judged as the start of a new level from the
 * points just around it (up to MAX_WINDOW on each side, at least MIN_SEGMENT):
 * the means before and after must differ by MIN_RELATIVE_CHANGE of the larger
 * of them and by NOISE_MULTIPLE times the noise, and a step must fit those
 * points at least 1/STEP_OVER_LINE times better than a straight line (so a
 * steady ramp or a smooth wave is a trend, not a string of steps). The
 * strongest shifts win, none closer than a window to another; before and
 * after are the means of the whole levels between them.
 */
export function changePointsOf(all: Pt[]): ChangePoint[] {
  const p = downsample(all, MAX_SCAN_POINTS);
  const n = p.length;
  if (n < 2 * MIN_SEGMENT) {
    return [];
  }
  const noise = noiseSD(p);
  const w = Math.min(MAX_WINDOW, Math.max(MIN_SEGMENT, Math.round(n / 8)));
  const candidates: Array<{ k: number; size: number }> = [];
  for (let k = MIN_SEGMENT; k <= n - MIN_SEGMENT; k++) {
    const a = Math.max(0, k - w);
    const b = Math.min(n, k + w);
    const before = mean(p, a, k);
    const after = mean(p, k, b);
    const delta = Math.abs(after - before);
    const level = Math.max(Math.abs(before), Math.abs(after));
    if (level === 0 || delta < MIN_RELATIVE_CHANGE * level || delta < NOISE_MULTIPLE * noise) {
      continue;
    }
    const step = sse(p, a, k) + sse(p, k, b);
    const line = lineFit(p, a, b).sse;
    if (step > STEP_OVER_LINE * line) {
      continue;
    }
    candidates.push({ k, size: delta / level });
  }
  candidates.sort((x, y) => y.size - x.size || x.k - y.k);
  const chosen: number[] = [];
  for (const c of candidates) {
    if (chosen.length >= MAX_CHANGE_POINTS) {
      break;
    }
    if (chosen.every((k) => Math.abs(k - c.k) >= w)) {
      chosen.push(c.k);
    }
  }
  chosen.sort((x, y) => x - y);
  return chosen.map((k, i) => {
    const from = i === 0 ? 0 : chosen[i - 1];
    const to = i === chosen.length - 1 ? n : chosen[i + 1];
    return { at: rfc3339(p[k].t), before: round3(mean(p, from, k)), after: round3(mean(p, k, to)) };
  });
}

/** The series' step: the median spacing of its timestamps (valued or not). */
export function stepOf(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  const d: number[] = [];
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i] > sorted[i - 1]) {
      d.push(sorted[i] - sorted[i - 1]);
    }
  }
  return median(d);
}

/**
 * Stretches without values: more than GAP_STEPS points missing in a row
 * (null, or no timestamp at all), between two valued points, and at either
 * end of the time range when one is given (a series that stopped reporting).
 * The longest MAX_GAPS, in time order.
 */
export function gapsOf(p: Pt[], step: number, range?: { from: number; to: number }): Gap[] {
  if (!(step > 0)) {
    return [];
  }
  // How many points are missing between two times (a whole number of steps, give or take jitter).
  const missing = (from: number, to: number) => Math.round((to - from) / step) - 1;
  const found: Array<{ from: number; to: number }> = [];
  if (!p.length) {
    return range ? [{ from: rfc3339(range.from), to: rfc3339(range.to) }] : [];
  }
  if (range && missing(range.from, p[0].t) + 1 > GAP_STEPS) {
    found.push({ from: range.from, to: p[0].t });
  }
  for (let i = 1; i < p.length; i++) {
    if (missing(p[i - 1].t, p[i].t) > GAP_STEPS) {
      found.push({ from: p[i - 1].t, to: p[i].t });
    }
  }
  const last = p[p.length - 1].t;
  if (range && missing(last, range.to) + 1 > GAP_STEPS) {
    found.push({ from: last, to: range.to });
  }
  return found
    .sort((a, b) => b.to - b.from - (a.to - a.from))
    .slice(0, MAX_GAPS)
    .sort((a, b) => a.from - b.from)
    .map((g) => ({ from: rfc3339(g.from), to: rfc3339(g.to) }));
}

/** A series summary without its id (the budget numbers them once ranked). */
export type Summary = Omit<Series, 'id'>;

/** Summarizes one series. `range` (unix ms) lets gaps at its ends count. */
export function summarizeSeries(s: SeriesInput, range?: { from: number; to: number }): Summary {
  const p: Pt[] = [];
  const n = Math.min(s.times.length, s.values.length);
  for (let i = 0; i < n; i++) {
    const v = s.values[i];
    const t = s.times[i];
    if (typeof v === 'number' && Number.isFinite(v) && Number.isFinite(t)) {
      p.push({ t, v });
    }
  }
  p.sort((a, b) => a.t - b.t);
  const labels = s.labels
    ? Object.fromEntries(Object.entries(s.labels).map(([k, v]) => [cut(k), cut(String(v))]))
    : undefined;
  const base: Summary = {
    refId: s.refId,
    name: cut(s.name),
    ...(labels && Object.keys(labels).length ? { labels } : {}),
    ...(s.unit ? { unit: s.unit } : {}),
    points: p.length,
    min: 0,
    max: 0,
    mean: 0,
    first: 0,
    last: 0,
    trend: { slopePerHour: 0, direction: DirectionFlat },
  };
  const gaps = gapsOf(p, stepOf(s.times.slice(0, n)), range);
  if (!p.length) {
    return gaps.length ? { ...base, gaps } : base;
  }
  let lo = Infinity;
  let hi = -Infinity;
  p.forEach((x) => {
    lo = Math.min(lo, x.v);
    hi = Math.max(hi, x.v);
  });
  const changePoints = changePointsOf(p);
  return {
    ...base,
    min: round3(lo),
    max: round3(hi),
    mean: round3(mean(p)),
    first: round3(p[0].v),
    last: round3(p[p.length - 1].v),
    trend: trendOf(p),
    ...(changePoints.length ? { changePoints } : {}),
    ...(gaps.length ? { gaps } : {}),
  };
}

/**
 * How much a summarized series changed, relative to its own level: its
 * largest level shift, its trend's rise over the range, its swing (half
 * weight), and a little for gaps. Series are kept in this order.
 */
export function changeScore(s: Summary): number {
  const level = Math.max(Math.abs(s.mean), s.max - s.min);
  if (!s.points || level === 0) {
    return s.gaps?.length ? 0.25 : 0;
  }
  const shift = Math.max(
    0,
    ...(s.changePoints ?? []).map(
      (c) => Math.abs(c.after - c.before) / Math.max(Math.abs(c.after), Math.abs(c.before), 1e-300)
    )
  );
  const trend = s.trend.direction === DirectionFlat ? 0 : Math.min(1, Math.abs(s.last - s.first) / level);
  const swing = (0.5 * (s.max - s.min)) / level;
  return Math.max(shift, trend, swing) + (s.gaps?.length ? 0.25 : 0);
}

/** The panel's summary: the series kept (ids s1… in order of change) and how many the budget left out. */
export interface PanelSummary {
  series: Series[];
  omittedSeries: number;
}

/**
 * Summarizes a panel's series under the budget: at most maxSeries, the
 * most changed first (a series with no points at all only when there is
 * room), numbered s1, s2, … in that order. Never any raw point.
 */
export function summarizePanel(
  inputs: SeriesInput[],
  options: { range?: { from: number; to: number }; maxSeries?: number } = {}
): PanelSummary {
  const max = options.maxSeries ?? MAX_SERIES;
  const ranked = inputs
    .map((s, i) => {
      const sum = summarizeSeries(s, options.range);
      return { sum, score: changeScore(sum) + (sum.points ? 1 : 0), i };
    })
    .sort((a, b) => b.score - a.score || a.i - b.i);
  const kept = ranked.slice(0, max);
  return {
    series: kept.map(({ sum }, i) => ({ id: `s${i + 1}`, ...sum })),
    omittedSeries: ranked.length - kept.length,
  };
}
