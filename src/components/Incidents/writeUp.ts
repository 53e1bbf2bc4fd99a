/**
 * An incident's LLM write-up as the page reads it: the Live packets of
 * analysis/<id> (pkg/analyses' frame), and a defensive reading of the stored
 * result (pkg/analysis' Result, JSON the store keeps opaque). A field of the
 * wrong type is left absent; malformed input never throws.
 */
import { fieldsByName, framePacket } from '../../live/frames';
import { LiveSnapshot } from '../../live/useLiveFrame';
import { FieldResponse, Response as WriteUpState, StreamPrefix } from '../../api/wire/analyses';
import type { Answer, Result, ShrinkStep, StepCheck, Verdicts } from '../../api/wire/analysis';
import type { Analysis } from '../../api/wire/incident';

export type { WriteUpState };

/** The Live channel path of an incident's write-up. */
export const writeUpChannel = (id: number) => `${StreamPrefix}/${id}`;

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** Reads one packet of the write-up channel; undefined for anything else. */
export function readWriteUpPacket(msg: unknown): LiveSnapshot<WriteUpState> | undefined {
  const frame = framePacket(msg);
  if (!frame) {
    return undefined;
  }
  const raw = fieldsByName(frame).get(FieldResponse)?.[0];
  let v: unknown = raw;
  if (typeof raw === 'string') {
    try {
      v = JSON.parse(raw);
    } catch {
      return undefined;
    }
  }
  const state = decodeState(v);
  return state ? { rows: [state] } : undefined;
}

/** The route's and the frame's answer, checked. */
export function decodeState(v: unknown): WriteUpState | undefined {
  if (!isObject(v) || typeof v.state !== 'string' || num(v.incidentId) === undefined) {
    return undefined;
  }
  return {
    incidentId: v.incidentId as number,
    state: v.state,
    position: num(v.position),
    text: str(v.text),
    summary: str(v.summary),
    unavailable: str(v.unavailable),
    analysis: isObject(v.analysis) ? (v.analysis as unknown as Analysis) : undefined,
  };
}

/** A finished write-up: the stored analysis and its result, read defensively. */
export interface WriteUp {
  analysis: Analysis;
  result: Result;
}

function decodeAnswer(v: unknown): Answer | undefined {
  if (!isObject(v) || !isObject(v.rootCause)) {
    return undefined;
  }
  const rc = v.rootCause;
  return {
    summary: str(v.summary) ?? '',
    confidence: str(v.confidence) ?? '',
    rootCause: {
      namespace: str(rc.namespace) ?? '',
      workload: str(rc.workload) ?? '',
      cause: str(rc.cause) ?? 'none',
      explanation: str(rc.explanation) ?? '',
      evidence: strings(rc.evidence),
    },
    remediation: (Array.isArray(v.remediation) ? v.remediation : []).filter(isObject).map((s) => ({
      action: str(s.action) ?? '',
      why: str(s.why) ?? '',
      command: str(s.command),
      evidence: strings(s.evidence),
      risk: str(s.risk) ?? '',
    })),
  };
}

function decodeClaim(v: unknown) {
  const c = isObject(v) ? v : {};
  return {
    supported: c.supported === true,
    cited: strings(c.cited),
    unknown: strings(c.unknown),
    reasons: strings(c.reasons),
    unknownWorkloads: strings(c.unknownWorkloads),
  };
}

function decodeGuard(v: unknown): Verdicts | undefined {
  if (!isObject(v)) {
    return undefined;
  }
  const steps: StepCheck[] = (Array.isArray(v.steps) ? v.steps : []).map((s) => {
    const o = isObject(s) ? s : {};
    return {
      ...decodeClaim(o),
      runnable: o.runnable === true,
      action: isObject(o.action) ? (o.action as unknown as StepCheck['action']) : undefined,
      commandReason: str(o.commandReason),
    };
  });
  return {
    rootCause: decodeClaim(v.rootCause),
    steps,
    unsupported: num(v.unsupported) ?? 0,
    flagged: num(v.flagged) ?? 0,
  };
}

/** Reads a stored analysis' result; undefined when it is not one. */
export function decodeWriteUp(a: Analysis | undefined): WriteUp | undefined {
  if (!a || !isObject(a.result)) {
    return undefined;
  }
  const r = a.result;
  const tokens = isObject(r.tokens) ? r.tokens : {};
  const timings = isObject(r.timings) ? r.timings : {};
  const result: Result = {
    status: r.status === 'done' ? 'done' : 'fallback',
    answer: decodeAnswer(r.answer),
    guard: decodeGuard(r.guard),
    fallback: str(r.fallback),
    error: isObject(r.error) ? { kind: str(r.error.kind) ?? '', message: str(r.error.message) ?? '' } : undefined,
    invalid: str(r.invalid),
    invalidReason: str(r.invalidReason),
    model: str(r.model) ?? a.model,
    numCtx: num(r.numCtx) ?? 0,
    numPredict: num(r.numPredict) ?? 0,
    warnings: strings(r.warnings),
    tokens: {
      estimate: num(tokens.estimate) ?? 0,
      budget: num(tokens.budget) ?? 0,
      prompt: num(tokens.prompt) ?? 0,
      output: num(tokens.output) ?? 0,
    },
    shrunk: (Array.isArray(r.shrunk) ? r.shrunk : [])
      .filter(isObject)
      .map((s): ShrinkStep => ({
        step: str(s.step) ?? '',
        dropped: strings(s.dropped),
        count: num(s.count) ?? 0,
        tokens: num(s.tokens) ?? 0,
      })),
    timings: {
      queueMs: num(timings.queueMs) ?? 0,
      loadMs: num(timings.loadMs) ?? 0,
      promptEvalMs: num(timings.promptEvalMs) ?? 0,
      evalMs: num(timings.evalMs) ?? 0,
      totalMs: num(timings.totalMs) ?? 0,
      wallMs: num(timings.wallMs) ?? 0,
      firstChunkMs: num(timings.firstChunkMs) ?? 0,
    },
    attempts: num(r.attempts) ?? 0,
    doneReason: str(r.doneReason),
    startedAt: str(r.startedAt) ?? '',
    finishedAt: str(r.finishedAt) ?? '',
  };
  if (result.status === 'done' && !result.answer) {
    result.status = 'fallback';
    result.fallback = result.fallback ?? 'the stored write-up holds no answer';
  }
  return { analysis: a, result };
}
