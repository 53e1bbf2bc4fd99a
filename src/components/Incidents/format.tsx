import React, { useEffect, useState } from 'react';
import { dateTimeFormat, dateTimeFormatTimeAgo } from '@grafana/data';
import { Badge, BadgeColor } from '@grafana/ui';
import { StateOpen } from '../../api/wire/incident';
import { severityLabel, severityRank } from './filters';

/** A duration as people read it on a list: 45s, 12m, 3h 5m, 2d 4h. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) {
    return `${s}s`;
  }
  const m = Math.floor(s / 60);
  if (m < 60) {
    return `${m}m`;
  }
  const h = Math.floor(m / 60);
  if (h < 24) {
    return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
  }
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d ${h % 24}h` : `${d}d`;
}

/** Re-renders the caller every `everyMs`, so relative times stay true on an open page. */
export function useNow(everyMs = 30_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}

function severityColor(severity: string): BadgeColor {
  const rank = severityRank(severity);
  if (rank >= 4) {
    return 'red';
  }
  if (rank === 3) {
    return 'orange';
  }
  if (rank === 2) {
    return 'blue';
  }
  return 'darkgrey';
}

export function SeverityBadge({ severity }: { severity: string }) {
  return <Badge text={severityLabel(severity)} color={severityColor(severity)} />;
}

export function StateBadge({ state }: { state: string }) {
  return state === StateOpen ? (
    <Badge text="Open" color="red" icon="exclamation-circle" />
  ) : (
    <Badge text={state === 'resolved' ? 'Resolved' : state || 'Unknown'} color="green" icon="check" />
  );
}

/** A point in time: relative text, the exact time on hover. */
export function When({ at, prefix = '' }: { at?: number; prefix?: string }) {
  if (at === undefined) {
    return <span aria-label="unknown">—</span>;
  }
  return (
    <time dateTime={new Date(at).toISOString()} title={dateTimeFormat(at)}>
      {prefix}
      {dateTimeFormatTimeAgo(at)}
    </time>
  );
}

/** An exact time, or "—". */
export function exactTime(at?: number): string {
  return at === undefined ? '—' : dateTimeFormat(at);
}

/**
 * One fault, one incident: "6 alerts on 3 workloads" for a row that heads a group of incidents (its own
 * workload the root); undefined for an incident on its own.
 */
export function groupText(r: { groupAlerts: number; groupWorkloads: number }): string | undefined {
  if (r.groupWorkloads < 2) {
    return undefined;
  }
  return `${r.groupAlerts} ${r.groupAlerts === 1 ? 'alert' : 'alerts'} on ${r.groupWorkloads} workloads`;
}
