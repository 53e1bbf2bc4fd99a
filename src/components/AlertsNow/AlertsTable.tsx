import React from 'react';
import { css } from '@emotion/css';
import { dateTimeFormat, dateTimeFormatTimeAgo, GrafanaTheme2, usePluginContext } from '@grafana/data';
import { Badge, BadgeColor, TextLink, useStyles2 } from '@grafana/ui';
import { testIds } from '../testIds';
import { AlertRow, dashboardLink } from './alertsFrame';
import { AppSettings } from '../../api/types';
import { withDatasourceVars } from '../../dashboardLinks';
import { tableStyles } from '../tableStyles';

const stateBadge: Record<string, { text: string; color: BadgeColor }> = {
  firing: { text: 'Firing', color: 'red' },
  pending: { text: 'Pending', color: 'orange' },
};

function StateBadge({ state }: { state: string }) {
  const b = stateBadge[state] ?? { text: state || 'Unknown', color: 'darkgrey' as BadgeColor };
  return <Badge text={b.text} color={b.color} />;
}

function ActiveSince({ at }: { at?: number }) {
  if (at === undefined) {
    return <span aria-label="unknown">—</span>;
  }
  return (
    <time dateTime={new Date(at).toISOString()} title={dateTimeFormat(at)}>
      {dateTimeFormatTimeAgo(at)}
    </time>
  );
}

function workloadOf(r: AlertRow): string {
  if (r.namespace && r.workload) {
    return `${r.namespace}/${r.workload}`;
  }
  return r.workload || r.namespace || '—';
}

/** The alerts Prometheus evaluates now, most urgent first (the backend's order). */
export function AlertsTable({ rows, labelledBy }: { rows: AlertRow[]; labelledBy: string }) {
  const s = useStyles2(getStyles);
  // The app's settings (plugin meta): MeshWatch's dashboards open on the datasources the admin picked.
  const jsonData = usePluginContext<AppSettings>()?.meta.jsonData;
  return (
    <div className={s.wrapper}>
      <table className={s.table} aria-labelledby={labelledBy} data-testid={testIds.incidents.alertsTable}>
        <thead>
          <tr>
            <th scope="col">State</th>
            <th scope="col">Alert</th>
            <th scope="col">Workload</th>
            <th scope="col">Severity</th>
            <th scope="col">Active since</th>
            <th scope="col">Summary</th>
            <th scope="col">Dashboard</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => {
            const link = dashboardLink(withDatasourceVars(r.dashboardUrl.trim(), jsonData));
            return (
              <tr
                key={`${r.alertname}/${r.namespace}/${r.workload}/${r.state}/${i}`}
                data-testid={testIds.incidents.alertRow}
              >
                <td>
                  <StateBadge state={r.state} />
                </td>
                <td className={s.strong}>{r.alertname}</td>
                <td>{workloadOf(r)}</td>
                <td>{r.severity}</td>
                <td className={s.nowrap}>
                  <ActiveSince at={r.activeAt} />
                </td>
                <td>{r.summary}</td>
                <td>
                  {link ? (
                    <TextLink
                      href={link.href}
                      external={link.external}
                      inline={false}
                      aria-label={`Dashboard for ${r.alertname} on ${workloadOf(r)}`}
                    >
                      Dashboard
                    </TextLink>
                  ) : null}
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
  strong: css({ fontWeight: theme.typography.fontWeightMedium }),
  nowrap: css({ whiteSpace: 'nowrap' }),
});
