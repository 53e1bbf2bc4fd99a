import React from 'react';
import { css, cx } from '@emotion/css';
import { GrafanaTheme2 } from '@grafana/data';
import { Badge, useStyles2 } from '@grafana/ui';
import { StateResolved } from '../../api/wire/incident';
import { testIds } from '../testIds';
import { namespaceLabel } from './filters';
import { SeverityBadge, StateBadge, When, exactTime, formatDuration, groupText, useNow } from './format';
import { IncidentRow } from './incidentsFrame';
import { tableStyles } from '../tableStyles';

/** "namespace/workload"; an incident whose alerts name no workload is grouped by its alertname (its title). */
export function groupOf(r: IncidentRow): { text: string; byAlertname: boolean } {
  if (r.workload) {
    return { text: r.namespace ? `${r.namespace}/${r.workload}` : r.workload, byAlertname: false };
  }
  return { text: `${namespaceLabel(r.namespace)} · alertname=${r.title}`, byAlertname: true };
}

function Age({ r }: { r: IncidentRow }) {
  const s = useStyles2(getStyles);
  // Re-render as time passes, so "10 minutes ago" stays true on an open page.
  useNow();
  if (r.state === StateResolved && r.startedAt !== undefined && r.resolvedAt !== undefined) {
    return (
      <>
        <span title={`${exactTime(r.startedAt)} to ${exactTime(r.resolvedAt)}`}>
          lasted {formatDuration(r.resolvedAt - r.startedAt)}
        </span>
        <div className={s.muted}>
          <When at={r.resolvedAt} prefix="resolved " />
        </div>
      </>
    );
  }
  return <When at={r.startedAt} />;
}

interface Props {
  rows: IncidentRow[];
  labelledBy: string;
  selectedId?: number;
  onOpen: (id: number) => void;
}

/** The incidents, open first, then the most recently updated; a row opens its alerts. */
export function IncidentsTable({ rows, labelledBy, selectedId, onOpen }: Props) {
  const s = useStyles2(getStyles);
  return (
    <div className={s.wrapper}>
      <table className={s.table} aria-labelledby={labelledBy} data-testid={testIds.incidents.table}>
        <thead>
          <tr>
            <th scope="col">Severity</th>
            <th scope="col">State</th>
            <th scope="col">Namespace/workload</th>
            <th scope="col">Incident</th>
            <th scope="col">Age</th>
            <th scope="col">Alerts</th>
            <th scope="col">Top finding</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => {
            const group = groupOf(r);
            const merged = groupText(r);
            return (
              <tr
                key={r.id}
                data-testid={testIds.incidents.row}
                data-incident-id={r.id}
                className={cx(s.row, selectedId === r.id && s.selected)}
                onClick={() => onOpen(r.id)}
              >
                <td>
                  <SeverityBadge severity={r.severity} />
                </td>
                <td className={s.nowrap}>
                  <StateBadge state={r.state} />
                  {r.flapping ? (
                    <div className={s.marker}>
                      <Badge
                        text="Flapping"
                        color="purple"
                        icon="exchange-alt"
                        tooltip="Reopened repeatedly within the hour"
                      />
                    </div>
                  ) : null}
                  {r.reopens > 0 ? (
                    <div className={s.muted}>reopened {r.reopens === 1 ? 'once' : `${r.reopens} times`}</div>
                  ) : null}
                </td>
                <td>
                  {group.byAlertname ? (
                    <span title="Its alerts name no workload: they are grouped by alertname">{group.text}</span>
                  ) : (
                    group.text
                  )}
                  {merged ? (
                    <div
                      className={s.muted}
                      title="The workload the findings blame: the other workloads' incidents are merged into this one"
                    >
                      root of {r.groupWorkloads - 1} affected {r.groupWorkloads === 2 ? 'workload' : 'workloads'}
                    </div>
                  ) : null}
                </td>
                <td>
                  <button
                    type="button"
                    className={s.title}
                    aria-label={`Show the alerts of ${r.title || `incident ${r.id}`} on ${group.text}`}
                    onClick={(e) => {
                      e.stopPropagation();
                      onOpen(r.id);
                    }}
                  >
                    {r.title || `Incident ${r.id}`}
                  </button>
                  {r.summary ? <div className={s.summary}>{r.summary}</div> : null}
                </td>
                <td className={s.nowrap}>
                  <Age r={r} />
                </td>
                <td className={s.nowrap}>
                  {merged ? (
                    <span title={`One fault: ${r.firing} of ${r.alerts} firing on ${group.text}`}>{merged}</span>
                  ) : (
                    <span
                      aria-label={`${r.firing} of ${r.alerts} alerts firing`}
                      title={`${r.firing} firing of ${r.alerts}`}
                    >
                      {r.firing}/{r.alerts}
                    </span>
                  )}
                </td>
                <td>
                  {r.topFinding ? (
                    r.topFinding
                  ) : (
                    <span
                      className={s.muted}
                      title="No finding stands out in the latest evidence capture (or none yet)"
                    >
                      —
                    </span>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  ...tableStyles(theme),
  row: css({
    cursor: 'pointer',
    '&:hover': { background: theme.colors.action.hover },
  }),
  selected: css({ background: theme.colors.action.selected }),
  title: css({
    all: 'unset',
    cursor: 'pointer',
    fontWeight: theme.typography.fontWeightMedium,
    color: theme.colors.text.link,
    '&:hover': { textDecoration: 'underline' },
    '&:focus-visible': { outline: `2px solid ${theme.colors.primary.main}`, outlineOffset: 2 },
  }),
  summary: css({ color: theme.colors.text.secondary, marginTop: theme.spacing(0.5) }),
  muted: css({ color: theme.colors.text.secondary, fontSize: theme.typography.bodySmall.fontSize }),
  marker: css({ marginTop: theme.spacing(0.5) }),
  nowrap: css({ whiteSpace: 'nowrap' }),
});
