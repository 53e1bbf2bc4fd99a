import { DataFrame } from '@grafana/data';
import { errorNotice, fieldsByName, framePacket, toMillis } from '../../live/frames';
import { LiveSnapshot } from '../../live/useLiveFrame';
// The backend's "incidents" frame, read by the field names pkg/incidents declares (generated).
import {
  Field as IncidentField,
  FieldAlerts,
  FieldFiring,
  FieldFlapping,
  FieldGroupAlerts,
  FieldGroupWorkloads,
  FieldID,
  FieldNamespace,
  FieldReopens,
  FieldResolvedAt,
  FieldSeverity,
  FieldStartedAt,
  FieldState,
  FieldSummary,
  FieldTitle,
  FieldTopFinding,
  FieldUpdatedAt,
  FieldWorkload,
  StreamPath,
} from '../../api/wire/incidents';
import type { State } from '../../api/wire/incident';

/** The Live channel path the backend serves the incidents on. */
export const INCIDENTS_CHANNEL_PATH = StreamPath;

/** One incident as the list shows it (a row of the incidents frame). */
export interface IncidentRow {
  id: number;
  state: State | string;
  /** The most severe severity label among its firing alerts ("" when none has one). */
  severity: string;
  namespace: string;
  /** Empty when its alerts name no workload: they are grouped by alertname (the title) instead. */
  workload: string;
  title: string;
  summary: string;
  /** Unix ms; undefined when the backend gave no time. */
  startedAt?: number;
  /** Unix ms; undefined while open. */
  resolvedAt?: number;
  updatedAt?: number;
  /** Alert instances, and those firing now. */
  alerts: number;
  firing: number;
  flapping: boolean;
  /** How many times it reopened. */
  reopens: number;
  /** The evidence stage's top finding; empty until it has one. */
  topFinding: string;
  /**
   * One fault, one incident: the alerts and workloads of the row's whole group (it is the root, the
   * workload the findings blame, and its affected incidents are merged into it); its own alerts and 1
   * when it heads no group, or when the backend sends no such field.
   */
  groupAlerts: number;
  groupWorkloads: number;
}

export type IncidentsSnapshot = LiveSnapshot<IncidentRow>;

/** Reads a stream packet; undefined for anything that is not the incidents frame. */
export function readIncidentsPacket(msg: unknown): IncidentsSnapshot | undefined {
  const frame = framePacket(msg);
  return frame && readIncidentsFrame(frame);
}

/** Reads the incidents frame; undefined when the frame lacks its fields. Rows without an id are skipped. */
export function readIncidentsFrame(frame: DataFrame): IncidentsSnapshot | undefined {
  const byName = fieldsByName(frame);
  if (!byName.has(FieldID) || !byName.has(FieldState) || !byName.has(FieldStartedAt)) {
    return undefined;
  }
  const value = (name: IncidentField, i: number) => byName.get(name)?.[i];
  const str = (name: IncidentField, i: number): string => {
    const v = value(name, i);
    return v == null ? '' : String(v);
  };
  const count = (name: IncidentField, i: number): number => {
    const n = Number(value(name, i));
    return Number.isFinite(n) && n > 0 ? Math.trunc(n) : 0;
  };
  const rows: IncidentRow[] = [];
  for (let i = 0; i < frame.length; i++) {
    const id = Number(value(FieldID, i));
    if (value(FieldID, i) == null || !Number.isFinite(id)) {
      continue;
    }
    rows.push({
      id,
      state: str(FieldState, i),
      severity: str(FieldSeverity, i).toLowerCase(),
      namespace: str(FieldNamespace, i),
      workload: str(FieldWorkload, i),
      title: str(FieldTitle, i),
      summary: str(FieldSummary, i),
      startedAt: toMillis(value(FieldStartedAt, i)),
      resolvedAt: toMillis(value(FieldResolvedAt, i)),
      updatedAt: toMillis(value(FieldUpdatedAt, i)),
      alerts: count(FieldAlerts, i),
      firing: count(FieldFiring, i),
      flapping: value(FieldFlapping, i) === true,
      reopens: count(FieldReopens, i),
      topFinding: str(FieldTopFinding, i),
      groupAlerts: Math.max(count(FieldGroupAlerts, i), count(FieldAlerts, i)),
      groupWorkloads: Math.max(count(FieldGroupWorkloads, i), 1),
    });
  }
  return { rows, notice: errorNotice(frame) };
}
