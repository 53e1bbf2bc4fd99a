import React, { useId, useMemo } from 'react';
import { css } from '@emotion/css';
import { dateTimeFormat, GrafanaTheme2 } from '@grafana/data';
import { config } from '@grafana/runtime';
import { Alert, Button, EmptyState, LoadingPlaceholder, TextLink, useStyles2 } from '@grafana/ui';
import { PLUGIN_ID, RESOURCES_URL } from '../../constants';
import { RouteAlertmanager, RouteGrafana } from '../../api/wire/incidents';
import { testIds } from '../testIds';
import { applyFilters, sortIncidents } from './filters';
import { usePendingSignOff } from '../SignOff';
import { IncidentDrawer } from './IncidentDrawer';
import { IncidentFiltersBar } from './IncidentFiltersBar';
import { IncidentsTable } from './IncidentsTable';
import { useIncidentsStream } from './useIncidentsStream';
import { useIncidentsView } from './useUrlQuery';

/** Where the README explains how to point Alertmanager or a Grafana contact point at MeshWatch. */
export const ALERT_INTAKE_DOC = 'https://github.com/meshwatch/meshwatch#alert-intake';

function isAdmin(): boolean {
  return config.bootData?.user?.orgRole === 'Admin';
}

/** The intake routes' URLs as a sender reaches them (Grafana's root URL, else this page's). */
function intakeURL(route: string): string {
  const base = (config.appUrl || config.appSubUrl || '').replace(/\/$/, '');
  return `${base}${RESOURCES_URL}${route}`;
}

/**
 * The incident list: every incident, open and resolved, live from the
 * plugin's "incidents" Live channel, with filters kept in the URL and each
 * incident's alerts in a drawer. Read-only for every role.
 */
export function IncidentList() {
  const s = useStyles2(getStyles);
  const headingId = useId();
  const { rows, rowsAt, notice, streamError, updatedAt } = useIncidentsStream();
  const { filters, setFilters, openId, setOpenId } = useIncidentsView();
  const pending = usePendingSignOff();
  const shown = useMemo(
    () => (rows ? sortIncidents(applyFilters(rows, filters, pending)) : []),
    [rows, filters, pending]
  );
  const admin = isAdmin();

  let body: React.ReactNode = null;
  if (rows === undefined) {
    if (!streamError && !notice) {
      body = <LoadingPlaceholder text="Connecting to the live incidents stream…" />;
    }
  } else if (rows.length === 0) {
    if (!notice) {
      body = <NoIncidentsYet admin={admin} />;
    }
  } else {
    body = (
      <>
        <IncidentFiltersBar rows={rows} filters={filters} onChange={setFilters} />
        {notice && rowsAt ? (
          <p className={s.muted}>
            Showing the incidents last read at {dateTimeFormat(rowsAt, { format: 'HH:mm:ss' })}.
          </p>
        ) : null}
        {shown.length > 0 ? (
          <IncidentsTable rows={shown} labelledBy={headingId} selectedId={openId} onOpen={setOpenId} />
        ) : (
          <div className={s.noMatch} data-testid={testIds.incidents.noMatch}>
            <p>
              No incident matches these filters ({rows.length} {rows.length === 1 ? 'incident' : 'incidents'} in all).
            </p>
            <Button variant="secondary" icon="times" onClick={() => setFilters({ severity: [], namespace: [] })}>
              Clear filters
            </Button>
          </div>
        )}
      </>
    );
  }

  return (
    <section className={s.section} aria-labelledby={headingId} data-testid={testIds.incidents.list}>
      <div className={s.header}>
        <h2 id={headingId} className={s.heading}>
          Incident list
        </h2>
        {updatedAt ? (
          <span className={s.muted} data-testid={testIds.incidents.updated}>
            Updated {dateTimeFormat(updatedAt, { format: 'HH:mm:ss' })}
          </span>
        ) : null}
      </div>
      <p className={s.muted}>
        Every alert that reaches MeshWatch belongs to an incident, one per namespace and workload; open ones first. The
        list updates live.
      </p>
      {streamError ? (
        <Alert
          severity="error"
          title="The live incidents stream is interrupted"
          data-testid={testIds.incidents.streamError}
        >
          {streamError}
        </Alert>
      ) : null}
      {notice ? (
        <Alert severity="error" title="Cannot read the incidents" data-testid={testIds.incidents.notice}>
          <div>{notice}</div>
          {admin ? (
            <div>
              Check the storage settings on the{' '}
              <TextLink href={`/plugins/${PLUGIN_ID}`} inline>
                configuration page
              </TextLink>
              .
            </div>
          ) : null}
        </Alert>
      ) : null}
      {body}
      {openId !== undefined ? (
        <IncidentDrawer id={openId} row={rows?.find((r) => r.id === openId)} onClose={() => setOpenId(undefined)} />
      ) : null}
    </section>
  );
}

/** The empty state: how alerts reach MeshWatch. Creating a service-account token is an admin's step. */
function NoIncidentsYet({ admin }: { admin: boolean }) {
  const s = useStyles2(getStyles);
  return (
    <div data-testid={testIds.incidents.empty}>
      <EmptyState variant="call-to-action" message="No incidents yet">
        <p>
          MeshWatch opens an incident when an alert arrives. Point Alertmanager (a webhook receiver) or a Grafana
          contact point (webhook) at its intake routes, with a Grafana service-account token as the bearer credentials
          (the Viewer role is enough):
        </p>
        <dl className={s.routes}>
          <dt>Alertmanager</dt>
          <dd>
            <code>{intakeURL(RouteAlertmanager)}</code>
          </dd>
          <dt>Grafana contact point</dt>
          <dd>
            <code>{intakeURL(RouteGrafana)}</code>
          </dd>
        </dl>
        <p>
          {admin ? (
            <>
              Create the service account and its token under{' '}
              <TextLink href="/org/serviceaccounts" inline>
                Administration → Users and access → Service accounts
              </TextLink>
              .{' '}
            </>
          ) : (
            'A Grafana admin creates the service account and its token. '
          )}
          Step by step:{' '}
          <TextLink href={ALERT_INTAKE_DOC} external inline>
            Alert intake
          </TextLink>{' '}
          in the README.
        </p>
      </EmptyState>
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  section: css({ marginBottom: theme.spacing(4) }),
  header: css({ display: 'flex', alignItems: 'baseline', justifyContent: 'space-between', gap: theme.spacing(2) }),
  heading: css({ margin: 0 }),
  muted: css({ color: theme.colors.text.secondary, margin: theme.spacing(0.5, 0, 1) }),
  noMatch: css({ margin: theme.spacing(2, 0) }),
  routes: css({
    display: 'grid',
    gridTemplateColumns: 'max-content auto',
    gap: theme.spacing(0.5, 2),
    textAlign: 'left',
    margin: theme.spacing(1, 'auto'),
    width: 'fit-content',
    dd: { margin: 0, overflowWrap: 'anywhere' },
  }),
});
