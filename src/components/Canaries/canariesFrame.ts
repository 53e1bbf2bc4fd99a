import { DataFrame } from '@grafana/data';
import { errorNotice, fieldsByName, framePacket } from '../../live/frames';
import type { LiveSnapshot } from '../../live/useLiveFrame';
// The backend's "canaries" frame, read by the names pkg/canaries declares (generated).
import { Canary, FieldCanary, FieldName, FieldNamespace, StreamPath } from '../../api/wire/canaries';

/** The Live channel path the backend serves the canaries on. */
export const CANARIES_CHANNEL_PATH = StreamPath;

/** A canary field's JSON as the model (a string, or already decoded); undefined when unreadable. */
function decodeCanary(v: unknown): Canary | undefined {
  let obj: unknown = v;
  if (typeof v === 'string') {
    try {
      obj = JSON.parse(v);
    } catch {
      return undefined;
    }
  }
  if (!obj || typeof obj !== 'object') {
    return undefined;
  }
  const c = obj as Partial<Canary>;
  if (typeof c.name !== 'string' || typeof c.namespace !== 'string') {
    return undefined;
  }
  // Lists the backend always sends, defended anyway: a page must not crash on an older backend.
  return {
    ...(c as Canary),
    steps: Array.isArray(c.steps) ? c.steps : [],
    metrics: Array.isArray(c.metrics) ? c.metrics : [],
    gates: Array.isArray(c.gates) ? c.gates : [],
    history: Array.isArray(c.history) ? c.history : [],
    conditions: Array.isArray(c.conditions) ? c.conditions : [],
  };
}

/** Reads the canaries frame; undefined when the frame lacks its fields. */
export function readCanariesFrame(frame: DataFrame): LiveSnapshot<Canary> | undefined {
  const byName = fieldsByName(frame);
  if (!byName.has(FieldCanary) || !byName.has(FieldName) || !byName.has(FieldNamespace)) {
    return undefined;
  }
  const rows: Canary[] = [];
  for (const v of byName.get(FieldCanary) ?? []) {
    const c = decodeCanary(v);
    if (c) {
      rows.push(c);
    }
  }
  return { rows, notice: errorNotice(frame) };
}

/** Reads a stream packet; undefined for anything that is not the canaries frame. */
export function readCanariesPacket(msg: unknown): LiveSnapshot<Canary> | undefined {
  const frame = framePacket(msg);
  return frame && readCanariesFrame(frame);
}
