import React, { useId } from 'react';
import { css } from '@emotion/css';
import { dateTimeFormat, GrafanaTheme2 } from '@grafana/data';
import { Alert, LoadingPlaceholder, useStyles2 } from '@grafana/ui';
import { testIds } from '../testIds';
import { AlertsTable } from './AlertsTable';
import { useAlertsStream } from './useAlertsStream';

/**
 * "Alerts now": the firing and pending alerts Prometheus evaluates at this
 * moment, streamed live from the plugin backend (Grafana Live channel
 * plugin/meshwatch-mesh-app/alerts).
 */
export function AlertsNow() {
  const s = useStyles2(getStyles);
  const headingId = useId();
  const { rows, rowsAt, notice, streamError, updatedAt } = useAlertsStream();

  let body: React.ReactNode = null;
  if (rows === undefined) {
    if (!streamError && !notice) {
      body = <LoadingPlaceholder text="Connecting to the live alerts stream…" />;
    }
  } else if (rows.length > 0) {
    body = (
      <>
        {notice && rowsAt ? (
          <p className={s.muted}>Showing the alerts last read at {dateTimeFormat(rowsAt, { format: 'HH:mm:ss' })}.</p>
        ) : null}
        <AlertsTable rows={rows} labelledBy={headingId} />
      </>
    );
  } else if (!notice) {
    body = (
      <p className={s.empty} data-testid={testIds.incidents.alertsEmpty}>
        No alerts are firing or pending.
      </p>
    );
  }

  return (
    <section className={s.section} aria-labelledby={headingId} data-testid={testIds.incidents.alertsNow}>
      <div className={s.header}>
        <h2 id={headingId} className={s.heading}>
          Alerts now
        </h2>
        {updatedAt ? (
          <span className={s.muted} data-testid={testIds.incidents.alertsUpdated}>
            Updated {dateTimeFormat(updatedAt, { format: 'HH:mm:ss' })}
          </span>
        ) : null}
      </div>
      <p className={s.muted}>The alerts Prometheus is evaluating now, firing first. The list updates live.</p>
      {streamError ? (
        <Alert
          severity="error"
          title="The live alerts stream is interrupted"
          data-testid={testIds.incidents.alertsStreamError}
        >
          {streamError}
        </Alert>
      ) : null}
      {notice ? (
        <Alert
          severity="error"
          title="Cannot read the alerts from Prometheus"
          data-testid={testIds.incidents.alertsNotice}
        >
          {notice}
        </Alert>
      ) : null}
      {body}
    </section>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  section: css({ marginBottom: theme.spacing(4) }),
  header: css({ display: 'flex', alignItems: 'baseline', justifyContent: 'space-between', gap: theme.spacing(2) }),
  heading: css({ margin: 0 }),
  muted: css({ color: theme.colors.text.secondary, margin: theme.spacing(0.5, 0, 1) }),
  empty: css({ margin: theme.spacing(1, 0) }),
});
