/**
 * A defensive decoder of an incident's evidence capture (GET incidents/{id}'s `evidence`):
 * pkg/incident's Evidence, whose pack (pkg/evidence's Pack) and findings (pkg/findings'
 * Finding list) reach the client as untyped JSON. A field of the wrong type or missing is
 * left absent (an item missing its id is dropped); malformed input never throws.
 */

export interface EvidenceWindow {
  from?: number;
  to?: number;
  /** The alerting rule's `for`, as Go writes a duration ("5m0s"). */
  ruleFor?: string;
}

export interface Neighbour {
  namespace: string;
  workload: string;
  role?: string;
  via?: string;
}

export interface MetricSummary {
  baseline?: number;
  window?: number;
  last?: number;
  min?: number;
  max?: number;
  trend?: number;
  changeAt?: number;
  after?: number;
  limit?: number;
  timeToLimit?: string;
  points?: number;
}

export interface EvidenceMetric {
  id: string;
  kind: string;
  namespace?: string;
  workload?: string;
  peer?: string;
  container?: string;
  detail?: Record<string, string>;
  unit?: string;
  summary: MetricSummary;
}

export interface EvidenceLog {
  id: string;
  namespace?: string;
  workload?: string;
  container?: string;
  pattern: string;
  count?: number;
  first?: number;
  last?: number;
  example?: string;
}

export interface EvidenceTrace {
  id: string;
  traceId?: string;
  service?: string;
  workload?: string;
  root?: string;
  durationMs?: number;
  error: boolean;
  start?: number;
}

export interface CanaryCheck {
  name: string;
  min?: number;
  max?: number;
  value?: number;
  passing?: boolean;
}

export interface CanaryEvent {
  at?: number;
  message: string;
  warning: boolean;
}

/** pkg/evidence's Canary: the subject's Flagger canary at the capture. */
export interface EvidenceCanary {
  id: string;
  namespace: string;
  name: string;
  target?: string;
  phase?: string;
  weight?: number;
  failedChecks?: number;
  threshold?: number;
  checks: CanaryCheck[];
  events: CanaryEvent[];
}

export interface SourceProblem {
  source: string;
  error?: string;
}

export interface Pack {
  window: EvidenceWindow;
  subject?: { namespace: string; workload: string };
  scope: Neighbour[];
  metrics: EvidenceMetric[];
  logs: EvidenceLog[];
  traces: EvidenceTrace[];
  canary?: EvidenceCanary;
  partial: SourceProblem[];
  capturedAt?: number;
}

export interface Finding {
  namespace?: string;
  workload?: string;
  cause: string;
  score?: number;
  explanation?: string;
  evidence: string[];
}

export interface Evidence {
  capturedAt?: number;
  pack: Pack;
  findings: Finding[];
  topFinding?: string;
  /** The sources the capture could not read (the capture's own list and the pack's). */
  partial: string[];
}

export type EvidenceItem =
  | { type: 'metric'; item: EvidenceMetric }
  | { type: 'log'; item: EvidenceLog }
  | { type: 'trace'; item: EvidenceTrace }
  | { type: 'canary'; item: EvidenceCanary };

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
}
function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
function time(v: unknown): number | undefined {
  const s = str(v);
  if (!s || s.startsWith('0001-01-01')) {
    return undefined;
  }
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
}
function list<T>(v: unknown, f: (o: Obj) => T | undefined): T[] {
  if (!Array.isArray(v)) {
    return [];
  }
  const out: T[] = [];
  for (const e of v) {
    const o = obj(e);
    const d = o ? f(o) : undefined;
    if (d !== undefined) {
      out.push(d);
    }
  }
  return out;
}
function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((e): e is string => typeof e === 'string') : [];
}
function stringMap(v: unknown): Record<string, string> | undefined {
  const o = obj(v);
  if (!o) {
    return undefined;
  }
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(o)) {
    if (typeof val === 'string') {
      out[k] = val;
    }
  }
  return Object.keys(out).length ? out : undefined;
}
function parsed(v: unknown): unknown {
  if (typeof v !== 'string') {
    return v;
  }
  try {
    return JSON.parse(v);
  } catch {
    return undefined;
  }
}

function decodeMetric(o: Obj): EvidenceMetric | undefined {
  const id = str(o.id);
  if (!id) {
    return undefined;
  }
  return {
    id,
    kind: str(o.kind) ?? '',
    namespace: str(o.ns),
    workload: str(o.wl),
    peer: str(o.peer),
    container: str(o.ctr),
    detail: stringMap(o.detail),
    unit: str(o.unit),
    summary: {
      baseline: num(o.base),
      window: num(o.win),
      last: num(o.last),
      min: num(o.min),
      max: num(o.max),
      trend: num(o.trend),
      changeAt: time(o.change),
      after: num(o.after),
      limit: num(o.limit),
      timeToLimit: str(o.ttl) ?? (num(o.ttl) !== undefined ? `${num(o.ttl)}s` : undefined),
      points: num(o.n),
    },
  };
}

function decodeLog(o: Obj): EvidenceLog | undefined {
  const id = str(o.id);
  if (!id) {
    return undefined;
  }
  return {
    id,
    namespace: str(o.ns),
    workload: str(o.wl),
    container: str(o.ctr),
    pattern: str(o.pattern) ?? '',
    count: num(o.n),
    first: time(o.first),
    last: time(o.last),
    example: str(o.ex),
  };
}

function decodeTrace(o: Obj): EvidenceTrace | undefined {
  const id = str(o.id);
  if (!id) {
    return undefined;
  }
  return {
    id,
    traceId: str(o.trace),
    service: str(o.svc),
    workload: str(o.wl),
    root: str(o.root),
    durationMs: num(o.ms),
    error: o.err === true,
    start: time(o.start),
  };
}

function decodeCanary(v: unknown): EvidenceCanary | undefined {
  const o = obj(v);
  const id = str(o?.id);
  const name = str(o?.name);
  if (!o || !id || !name) {
    return undefined;
  }
  return {
    id,
    namespace: str(o.ns) ?? '',
    name,
    target: str(o.target),
    phase: str(o.phase),
    weight: num(o.weight),
    failedChecks: num(o.failed),
    threshold: num(o.threshold),
    checks: list(o.checks, (c) => {
      const n = str(c.name);
      return n
        ? {
            name: n,
            min: num(c.min),
            max: num(c.max),
            value: num(c.value),
            passing: typeof c.ok === 'boolean' ? c.ok : undefined,
          }
        : undefined;
    }),
    events: list(o.events, (e) => {
      const message = str(e.msg);
      return message ? { at: time(e.at), message, warning: e.warn === true } : undefined;
    }),
  };
}

/** pkg/evidence's Pack; an absent or malformed pack is an empty one. */
export function decodePack(v: unknown): Pack {
  const o = obj(parsed(v)) ?? {};
  const w = obj(o.window) ?? {};
  const subj = obj(o.subject);
  const subjNs = str(subj?.ns);
  const subjWl = str(subj?.wl);
  return {
    window: { from: time(w.from), to: time(w.to), ruleFor: str(w.for) },
    subject: subjWl ? { namespace: subjNs ?? '', workload: subjWl } : undefined,
    scope: list(o.scope, (n) => {
      const wl = str(n.wl);
      return wl ? { namespace: str(n.ns) ?? '', workload: wl, role: str(n.role), via: str(n.via) } : undefined;
    }),
    metrics: list(o.metrics, decodeMetric),
    logs: list(o.logs, decodeLog),
    traces: list(o.traces, decodeTrace),
    canary: decodeCanary(o.canary),
    partial: list(o.partial, (p) => {
      const source = str(p.source);
      return source ? { source, error: str(p.error) } : undefined;
    }),
    capturedAt: time(o.at),
  };
}

/** pkg/findings' ranked list; entries that are not objects are dropped. */
export function decodeFindings(v: unknown): Finding[] {
  return list(parsed(v), (o) => ({
    namespace: str(o.namespace),
    workload: str(o.workload),
    cause: str(o.cause) ?? 'unknown',
    score: num(o.score),
    explanation: str(o.explanation),
    evidence: strings(o.evidence),
  }));
}

/** The detail response's `evidence`; undefined when there is none (before the first capture) or it is no object. */
export function decodeEvidence(v: unknown): Evidence | undefined {
  const o = obj(v);
  if (!o) {
    return undefined;
  }
  const pack = decodePack(o.pack);
  const partial = [...strings(o.partial), ...pack.partial.map((p) => p.source)];
  return {
    capturedAt: time(o.capturedAt),
    pack,
    findings: decodeFindings(o.findings),
    topFinding: str(o.topFinding) || undefined,
    partial: Array.from(new Set(partial)),
  };
}

/** A canary in one line: its phase and failed checks. */
export function canaryText(c: EvidenceCanary): string {
  const checks = c.threshold ? `, ${c.failedChecks ?? 0} of ${c.threshold} failed checks` : '';
  return `Flagger canary ${c.namespace}/${c.name}: ${c.phase || 'not initialised'}${checks}`;
}

/** The pack's items by evidence id. */
export function indexEvidence(pack: Pack): Map<string, EvidenceItem> {
  const m = new Map<string, EvidenceItem>();
  pack.metrics.forEach((item) => m.set(item.id, { type: 'metric', item }));
  pack.logs.forEach((item) => m.set(item.id, { type: 'log', item }));
  pack.traces.forEach((item) => m.set(item.id, { type: 'trace', item }));
  if (pack.canary) {
    m.set(pack.canary.id, { type: 'canary', item: pack.canary });
  }
  return m;
}

const KIND_LABELS: Record<string, string> = {
  'request-rate': 'request rate',
  'error-ratio': '5xx ratio',
  'latency-p99': 'p99 latency',
  'edge-rate': 'request rate',
  'edge-error-ratio': '5xx ratio',
  'edge-latency-p99': 'p99 latency',
  'sidecar-memory': 'sidecar memory',
  'app-memory': 'memory',
  cpu: 'CPU',
  restarts: 'restarts',
  'oom-kills': 'OOM kills',
  'mtls-share': 'mTLS share',
  'canary-weight': 'canary weight',
  'canary-status': 'canary status',
  'istiod-pushes': 'istiod pushes',
  'istiod-rejects': 'istiod rejects',
};

function sig(v: number, digits = 3): string {
  return String(Number(v.toPrecision(digits)));
}

/** A value in the metric's unit, readable: 180 ms, 1.4 s, 512 MiB, 2.5 %, 12 req/s. */
export function formatValue(v: number | undefined, unit?: string): string {
  if (v === undefined) {
    return '—';
  }
  switch (unit) {
    case 'ms':
      return Math.abs(v) >= 1000 ? `${sig(v / 1000, 2)} s` : `${sig(v)} ms`;
    case 'ratio':
      return `${sig(v * 100)} %`;
    case 'percent':
      return `${sig(v)} %`;
    case 'bytes': {
      const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
      let x = v;
      let i = 0;
      while (Math.abs(x) >= 1024 && i < units.length - 1) {
        x /= 1024;
        i++;
      }
      return `${sig(x)} ${units[i]}`;
    }
    case 'cores':
      return `${sig(v)} cores`;
    case 'req/s':
      return `${sig(v)} req/s`;
    case '1/s':
      return `${sig(v)}/s`;
    case 'count':
    case 'status':
    case undefined:
    case '':
      return sig(v);
    default:
      return `${sig(v)} ${unit}`;
  }
}

function hhmm(t: number): string {
  const d = new Date(t);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** What the metric is: "p99 latency of checkout → payments", "sidecar memory of cart (istio-proxy)". */
export function metricName(m: EvidenceMetric): string {
  const what = KIND_LABELS[m.kind] ?? (m.kind || 'metric');
  const who = m.workload ? (m.peer ? `${m.workload} → ${m.peer}` : m.workload) : '';
  const detail = m.detail ? Object.entries(m.detail).map(([k, v]) => `${k}=${v}`) : [];
  const extra = [m.container && m.kind !== 'sidecar-memory' ? m.container : '', ...detail].filter(Boolean);
  return `${what}${who ? ` of ${who}` : ''}${extra.length ? ` (${extra.join(', ')})` : ''}`;
}

/** The metric's change, readable: "p99 latency of checkout 180 ms → 1.4 s, change at 10:42". */
export function metricText(m: EvidenceMetric): string {
  const s = m.summary;
  const to = s.after ?? s.last ?? s.window;
  const change =
    s.baseline !== undefined
      ? `${formatValue(s.baseline, m.unit)} → ${formatValue(to, m.unit)}`
      : `now ${formatValue(to, m.unit)}`;
  const parts = [`${metricName(m)} ${change}`];
  if (s.changeAt !== undefined) {
    parts.push(`change at ${hhmm(s.changeAt)}`);
  }
  if (s.limit !== undefined) {
    parts.push(`limit ${formatValue(s.limit, m.unit)}${s.timeToLimit ? `, reached in ${s.timeToLimit}` : ''}`);
  }
  return parts.join(', ');
}

/** Grafana's unit id for a pack metric's unit (the units pkg/evidence writes). */
export function grafanaUnit(unit?: string): string {
  switch (unit) {
    case 'req/s':
      return 'reqps';
    case 'ratio':
      return 'percentunit';
    case 'ms':
      return 'ms';
    case 'bytes':
      return 'bytes';
    case 'percent':
      return 'percent';
    case '1/s':
      return 'short';
    default:
      // cores, count, status and anything new: a plain number.
      return 'short';
  }
}
