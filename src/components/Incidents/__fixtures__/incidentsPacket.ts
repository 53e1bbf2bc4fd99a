// Test fixture: the "incidents" frame as the Go SDK encodes pkg/incidents'
// Frame (data.IncludeAll), by the field names generated from pkg/incidents,
// in frame order. Times are unix ms; resolvedAt is null while open.
import { DataFrameJSON, FieldType } from '@grafana/data';
import {
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
  FrameName,
} from '../../../api/wire/incidents';

export interface Row {
  id: number;
  state?: string;
  severity?: string;
  namespace?: string;
  workload?: string;
  title?: string;
  summary?: string;
  startedAt?: number;
  resolvedAt?: number | null;
  updatedAt?: number;
  alerts?: number;
  firing?: number;
  flapping?: boolean;
  reopens?: number;
  topFinding?: string;
  groupAlerts?: number;
  groupWorkloads?: number;
}

const FIELDS: Array<{ name: string; type: FieldType; of: (r: Row) => unknown }> = [
  { name: FieldID, type: FieldType.number, of: (r) => r.id },
  { name: FieldState, type: FieldType.string, of: (r) => r.state ?? 'open' },
  { name: FieldSeverity, type: FieldType.string, of: (r) => r.severity ?? '' },
  { name: FieldNamespace, type: FieldType.string, of: (r) => r.namespace ?? '' },
  { name: FieldWorkload, type: FieldType.string, of: (r) => r.workload ?? '' },
  { name: FieldTitle, type: FieldType.string, of: (r) => r.title ?? '' },
  { name: FieldSummary, type: FieldType.string, of: (r) => r.summary ?? '' },
  { name: FieldStartedAt, type: FieldType.time, of: (r) => r.startedAt ?? 0 },
  { name: FieldResolvedAt, type: FieldType.time, of: (r) => r.resolvedAt ?? null },
  { name: FieldUpdatedAt, type: FieldType.time, of: (r) => r.updatedAt ?? r.startedAt ?? 0 },
  { name: FieldAlerts, type: FieldType.number, of: (r) => r.alerts ?? 1 },
  { name: FieldFiring, type: FieldType.number, of: (r) => r.firing ?? (r.state === 'resolved' ? 0 : 1) },
  { name: FieldFlapping, type: FieldType.boolean, of: (r) => r.flapping ?? false },
  { name: FieldReopens, type: FieldType.number, of: (r) => r.reopens ?? 0 },
  { name: FieldTopFinding, type: FieldType.string, of: (r) => r.topFinding ?? '' },
  { name: FieldGroupAlerts, type: FieldType.number, of: (r) => r.groupAlerts ?? r.alerts ?? 1 },
  { name: FieldGroupWorkloads, type: FieldType.number, of: (r) => r.groupWorkloads ?? 1 },
];

export function incidentsPacket(rows: Row[], notice?: string): DataFrameJSON {
  return {
    schema: {
      name: FrameName,
      meta: notice ? { notices: [{ severity: 'error', text: notice }] } : {},
      fields: FIELDS.map(({ name, type }) => ({ name, type })),
    },
    data: { values: FIELDS.map((f) => rows.map((r) => f.of(r))) },
  } as DataFrameJSON;
}
