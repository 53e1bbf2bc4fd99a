/**
 * The backend of "Explain this panel" (pkg/explain): POST explain starts (or
 * rejoins) an explanation and names its Live channel, POST explain/data
 * re-runs a panel's queries when Grafana gave the link no data, and the
 * channel's packets carry the explanation's state as JSON. Packets are read
 * defensively: a field of the wrong type is left out, and nothing throws.
 */
import { lastValueFrom } from 'rxjs';
import { getBackendSrv } from '@grafana/runtime';
import { RESOURCES_URL } from '../constants';
import { fieldsByName, framePacket } from '../live/frames';
import type { LiveSnapshot } from '../live/useLiveFrame';
import {
  DatasourceLoki,
  FieldResponse,
  FrameName,
  RouteData,
  RouteExplain,
  StatusDone,
  StatusFailed,
  StatusQueued,
  StatusStreaming,
  StatusUnavailable,
  type Accepted,
  type Answer,
  type DataRequest,
  type DataResponse,
  type NextQuery,
  type Point,
  type Request,
  type State,
  type Status,
} from '../api/wire/explain';

async function post<T>(url: string, data: unknown): Promise<T> {
  const res = await lastValueFrom(
    getBackendSrv().fetch<T>({ url, method: 'POST', data, showErrorAlert: false, showSuccessAlert: false })
  );
  return res.data;
}

export const explainApi = {
  /** Starts the explanation (any signed-in role). */
  explain: (req: Request) => post<Accepted>(`${RESOURCES_URL}${RouteExplain}`, req),
  /** Re-runs the panel's queries through the backend. */
  data: (req: DataRequest) => post<DataResponse>(`${RESOURCES_URL}${RouteData}`, req),
};

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const STATUSES: string[] = [StatusQueued, StatusStreaming, StatusDone, StatusFailed, StatusUnavailable];

function points(v: unknown): Point[] {
  return (Array.isArray(v) ? v : [])
    .filter(isObject)
    .map((p) => ({ text: str(p.text), series: strings(p.series), uncited: p.uncited === true }))
    .filter((p) => p.text);
}

function nextQueries(v: unknown): NextQuery[] {
  return (Array.isArray(v) ? v : [])
    .filter(isObject)
    .map((q) => ({
      datasource: (q.datasource === DatasourceLoki ? DatasourceLoki : 'prometheus') as NextQuery['datasource'],
      expr: str(q.expr),
      why: str(q.why),
      valid: q.valid === true,
      error: str(q.error) || undefined,
    }))
    .filter((q) => q.expr);
}

function answer(v: unknown): Answer | undefined {
  if (!isObject(v)) {
    return undefined;
  }
  return {
    shows: str(v.shows),
    notable: points(v.notable),
    causes: points(v.causes),
    nextQueries: nextQueries(v.nextQueries),
  };
}

/** The explanation's state from a JSON value; undefined when it is not one. */
export function decodeState(v: unknown): State | undefined {
  if (!isObject(v) || typeof v.status !== 'string' || !STATUSES.includes(v.status)) {
    return undefined;
  }
  return {
    status: v.status as Status,
    position: typeof v.position === 'number' && Number.isFinite(v.position) ? v.position : 0,
    text: str(v.text),
    answer: answer(v.answer),
    reason: str(v.reason),
    model: str(v.model),
  };
}

/** Reads one packet of explain/<id>: a frame named "explain" whose "response" field holds the state's JSON. */
export function readExplainPacket(msg: unknown): LiveSnapshot<State> | undefined {
  const frame = framePacket(msg);
  if (!frame || (frame.name && frame.name !== FrameName)) {
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

/**
 * Pulls the finished parts out of a model's partial JSON answer while it
 * streams: the "shows" sentence once its string has closed, and the text of
 * each notable point and cause completed so far. Nothing is guessed: what
 * has not closed yet is not shown.
 */
export function previewAnswer(text: string): { shows?: string; notable: string[]; causes: string[] } {
  const out: { shows?: string; notable: string[]; causes: string[] } = { notable: [], causes: [] };
  // A JSON string that has closed, starting at `at` of `s`.
  const closedString = (s: string, at: number): string | undefined => {
    const re = /"((?:[^"\\]|\\.)*)"/y;
    re.lastIndex = at;
    const m = re.exec(s);
    if (!m) {
      return undefined;
    }
    try {
      return JSON.parse(`"${m[1]}"`) as string;
    } catch {
      return undefined;
    }
  };
  const shows = /"shows"\s*:\s*/.exec(text);
  if (shows) {
    out.shows = closedString(text, shows.index + shows[0].length);
  }
  for (const key of ['notable', 'causes'] as const) {
    const start = new RegExp(`"${key}"\\s*:\\s*\\[`).exec(text);
    if (!start) {
      continue;
    }
    const rest = text.slice(start.index + start[0].length);
    const end = rest.search(/\]\s*,\s*"(?:notable|causes|nextQueries|shows)"/);
    const body = end >= 0 ? rest.slice(0, end) : rest;
    const item = /"text"\s*:\s*/g;
    let m: RegExpExecArray | null;
    while ((m = item.exec(body))) {
      const t = closedString(body, m.index + m[0].length);
      if (t === undefined) {
        break;
      }
      out[key].push(t);
    }
  }
  return out;
}
