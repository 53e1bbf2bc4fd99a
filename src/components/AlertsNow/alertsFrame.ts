import { DataFrame } from '@grafana/data';
import { errorNotice, fieldsByName, framePacket, toMillis } from '../../live/frames';
// The backend's "alerts" frame, read by the field names pkg/alerts declares (generated).
import {
  Field as AlertField,
  FieldActiveAt,
  FieldAlertname,
  FieldDashboardURL,
  FieldNamespace,
  FieldRunbook,
  FieldSeverity,
  FieldState,
  FieldSummary,
  FieldWorkload,
  StateFiring,
  StatePending,
  StreamPath,
} from '../../api/wire/alerts';

/** The Live channel path the backend serves the alerts on. */
export const ALERTS_CHANNEL_PATH = StreamPath;

/** One alert Prometheus is evaluating now. */
export interface AlertRow {
  state: typeof StateFiring | typeof StatePending | string;
  alertname: string;
  namespace: string;
  workload: string;
  severity: string;
  /** Unix milliseconds, or undefined when Prometheus gave no time. */
  activeAt?: number;
  summary: string;
  dashboardUrl: string;
  runbook: string;
}

/** What one packet of the alerts stream says. */
export interface AlertsSnapshot {
  rows: AlertRow[];
  /** The error notices' text: the backend could not read the alerts. */
  notice?: string;
}

/**
 * Reads a stream packet (a DataFrameJSON with schema). Returns undefined for
 * anything that is not the alerts frame.
 */
export function readAlertsPacket(msg: unknown): AlertsSnapshot | undefined {
  const frame = framePacket(msg);
  return frame && readAlertsFrame(frame);
}

/** Reads the alerts frame; undefined when the frame lacks its fields. */
export function readAlertsFrame(frame: DataFrame): AlertsSnapshot | undefined {
  const byName = fieldsByName(frame);
  if (!byName.has(FieldState) || !byName.has(FieldAlertname)) {
    return undefined;
  }
  const str = (name: AlertField, i: number): string => {
    const v = byName.get(name)?.[i];
    return v == null ? '' : String(v);
  };
  const rows: AlertRow[] = [];
  for (let i = 0; i < frame.length; i++) {
    rows.push({
      state: str(FieldState, i),
      alertname: str(FieldAlertname, i),
      namespace: str(FieldNamespace, i),
      workload: str(FieldWorkload, i),
      severity: str(FieldSeverity, i),
      activeAt: toMillis(byName.get(FieldActiveAt)?.[i]),
      summary: str(FieldSummary, i),
      dashboardUrl: str(FieldDashboardURL, i),
      runbook: str(FieldRunbook, i),
    });
  }
  return { rows, notice: errorNotice(frame) };
}

/**
 * How a dashboard link may be rendered: Grafana-relative paths ("/d/…") stay
 * in the app, absolute http(s) URLs open in a new tab, anything else (e.g. a
 * javascript: URL in an alert annotation) is not linked.
 */
export function dashboardLink(url: string): { href: string; external: boolean } | undefined {
  const u = url.trim();
  if (u.startsWith('/') && !u.startsWith('//') && !u.startsWith('/\\')) {
    return { href: u, external: false };
  }
  if (/^https?:\/\/[^\s]+$/i.test(u)) {
    return { href: u, external: true };
  }
  return undefined;
}
