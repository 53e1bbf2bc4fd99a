import { DataFrame, DataFrameJSON, dataFrameFromJSON } from '@grafana/data';

/**
 * Reads one Live packet (a DataFrameJSON with its schema, as the Go SDK
 * encodes a frame with data.IncludeAll). Undefined for anything else.
 */
export function framePacket(msg: unknown): DataFrame | undefined {
  if (!msg || typeof msg !== 'object' || !('schema' in msg) || !(msg as DataFrameJSON).schema) {
    return undefined;
  }
  try {
    return dataFrameFromJSON(msg as DataFrameJSON);
  } catch {
    return undefined;
  }
}

/** The text of a frame's error notices (the backend could not read its source), or undefined. */
export function errorNotice(frame: DataFrame): string | undefined {
  const notices = (frame.meta?.notices ?? []).filter((n) => n.severity === 'error' && n.text);
  return notices.length ? notices.map((n) => n.text).join('\n') : undefined;
}

/** A frame time (unix ms, or a string) as unix ms; Go's zero time (0001-01-01), null and anything unparsable mean "no time". */
export function toMillis(v: unknown): number | undefined {
  const ms = typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

/** Field values of a frame by field name. */
export function fieldsByName(frame: DataFrame): Map<string, unknown[]> {
  return new Map(frame.fields.map((f) => [f.name, f.values as unknown[]]));
}
