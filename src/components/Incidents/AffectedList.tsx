import React from 'react';
import { css } from '@emotion/css';
import { GrafanaTheme2 } from '@grafana/data';
import { Alert, Badge, Button, Stack, useStyles2 } from '@grafana/ui';
import { IncidentDetail } from '../../api/types';
import { MergeKindMerge, StatusResolved } from '../../api/wire/incident';
import { toMillis } from '../../live/frames';
import { namespaceLabel } from './filters';
import { When, exactTime } from './format';
import { useIncidentsView } from './useUrlQuery';

/**
 * One fault, one incident, in the drawer: a merged incident points to its root; a root lists its affected
 * incidents (the callers its fault reached), each with its own alerts, and the record of merges and splits.
 */
export function AffectedList({ detail }: { detail: IncidentDetail }) {
  const s = useStyles2(getStyles);
  const { setOpenId } = useIncidentsView();
  const inc = detail.incident;
  const affected = detail.affected ?? [];
  const merges = detail.merges ?? [];
  if (!inc.mergedInto && affected.length === 0 && merges.length === 0) {
    return null;
  }
  const where = (k: { namespace: string; workload: string }) =>
    k.workload ? `${namespaceLabel(k.namespace)}/${k.workload}` : namespaceLabel(k.namespace);
  return (
    <section aria-label="One fault, one incident">
      {inc.mergedInto ? (
        <Alert severity="info" title={`Part of incident #${inc.mergedInto}`}>
          <p>
            The evidence ties this incident to the fault of incident #{inc.mergedInto}: the list shows that one row for
            both.
          </p>
          <Button size="sm" variant="secondary" onClick={() => setOpenId(inc.mergedInto)}>
            Open incident #{inc.mergedInto}
          </Button>
        </Alert>
      ) : null}
      {affected.length > 0 ? (
        <>
          <h4 className={s.heading}>
            Affected workloads ({affected.length}): {inc.groupAlerts ?? inc.alerts} alerts on{' '}
            {inc.groupWorkloads ?? affected.length + 1} workloads, {where(inc.key)} the root
          </h4>
          <ul className={s.list} aria-label="Affected incidents">
            {affected.map(({ incident: a, alerts }) => (
              <li key={a.id} className={s.item}>
                <Stack gap={1} alignItems="center" wrap="wrap">
                  <strong>{where(a.key)}</strong>
                  <span className={s.muted}>
                    {a.firing} of {a.alerts} alerts firing
                  </span>
                  <Button size="sm" variant="secondary" fill="text" onClick={() => setOpenId(a.id)}>
                    Incident #{a.id}
                  </Button>
                </Stack>
                <ul className={s.alerts} aria-label={`Alerts of ${where(a.key)}`}>
                  {alerts.map((r) => (
                    <li key={r.fingerprint}>
                      <Badge
                        text={r.status === StatusResolved ? 'Resolved' : 'Firing'}
                        color={r.status === StatusResolved ? 'green' : 'red'}
                      />{' '}
                      {r.labels?.alertname ?? r.fingerprint} <When at={toMillis(r.startsAt)} prefix="since " />
                    </li>
                  ))}
                </ul>
              </li>
            ))}
          </ul>
        </>
      ) : null}
      {merges.length > 0 ? (
        <>
          <h4 className={s.heading}>Merges and splits</h4>
          <ul className={s.list} aria-label="Merges and splits">
            {merges.map((m) => (
              <li key={m.id} className={s.muted}>
                {exactTime(toMillis(m.at))}: {m.kind === MergeKindMerge ? 'merged' : 'split off'}{' '}
                {m.members.map((id) => `#${id}`).join(', ')} {m.kind === MergeKindMerge ? 'into' : 'from'} #{m.root}
                {m.reason ? ` — ${m.reason}` : ''}
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </section>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  heading: css({ margin: theme.spacing(2, 0, 1) }),
  muted: css({ color: theme.colors.text.secondary }),
  list: css({ listStyle: 'none', padding: 0, margin: 0 }),
  item: css({ padding: theme.spacing(1, 0), borderBottom: `1px solid ${theme.colors.border.weak}` }),
  alerts: css({ listStyle: 'none', padding: theme.spacing(0.5, 0, 0, 2), margin: 0 }),
});
