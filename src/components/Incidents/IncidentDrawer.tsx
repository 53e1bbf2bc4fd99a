import React, { useEffect, useMemo, useState } from 'react';
import { css } from '@emotion/css';
import { GrafanaTheme2 } from '@grafana/data';
import { Alert, Badge, Drawer, LoadingPlaceholder, Stack, TextLink, useStyles2 } from '@grafana/ui';
import { api, errorMessage } from '../../api/client';
import { AlertRecord, Incident, IncidentDetail } from '../../api/types';
import { StatusResolved } from '../../api/wire/incident';
import { toMillis } from '../../live/frames';
import { dashboardLink } from '../AlertsNow/alertsFrame';
import { testIds } from '../testIds';
import { namespaceLabel } from './filters';
import { SeverityBadge, StateBadge, When, exactTime, formatDuration } from './format';
import { IncidentRow } from './incidentsFrame';
import { decodeEvidence, indexEvidence } from './evidence';
import { EvidenceView } from './EvidenceView';
import { AffectedList } from './AffectedList';
import { WriteUpView } from './WriteUp';

interface Props {
  id: number;
  /** The incident's live row, when the list holds it: a change to it fetches the alerts again. */
  row?: IncidentRow;
  onClose: () => void;
}

interface Fetched {
  id: number;
  key: string;
  detail?: IncidentDetail;
  error?: string;
}

/** The incident's alerts (GET incidents/{id}), fetched again whenever the live list says it changed. */
function useIncidentDetail(
  id: number,
  version?: number | string
): { detail?: IncidentDetail; error?: string; loading: boolean } {
  const key = `${id}@${version ?? ''}`;
  const [fetched, setFetched] = useState<Fetched>();
  useEffect(() => {
    let cancelled = false;
    api.incident(id).then(
      (detail) => !cancelled && setFetched({ id, key, detail }),
      (err) =>
        !cancelled &&
        setFetched((prev) => ({
          id,
          key,
          // Keep what was shown of this incident under the error.
          detail: prev?.id === id ? prev.detail : undefined,
          error: errorMessage(err),
        }))
    );
    return () => {
      cancelled = true;
    };
  }, [id, key]);
  const current = fetched?.id === id ? fetched : undefined;
  return { detail: current?.detail, error: current?.error, loading: fetched?.key !== key };
}

/** The incident's alerts, in a drawer: labels, annotations, times, the rule's link and where it came from. */
export function IncidentDrawer({ id, row, onClose }: Props) {
  const s = useStyles2(getStyles);
  // A new evidence capture changes the row's top finding, not its updatedAt: either fetches again.
  const { detail, error, loading } = useIncidentDetail(
    id,
    row ? `${row.updatedAt ?? ''}|${row.topFinding ?? ''}|${row.groupAlerts}|${row.groupWorkloads}` : undefined
  );
  const inc = detail?.incident;
  const title = row?.title || inc?.title || `Incident ${id}`;
  const evidence = useMemo(() => decodeEvidence(detail?.evidence), [detail]);
  const index = useMemo(() => (evidence ? indexEvidence(evidence.pack) : new Map()), [evidence]);
  return (
    <Drawer title={title} subtitle={<Subtitle id={id} row={row} inc={inc} />} onClose={onClose} size="md">
      <div data-testid={testIds.incidents.drawer}>
        {error ? (
          <Alert severity="error" title="Cannot load the incident’s alerts" data-testid={testIds.incidents.detailError}>
            {error}
          </Alert>
        ) : null}
        {inc ? <Facts inc={inc} /> : null}
        {detail ? <AffectedList detail={detail} /> : null}
        {evidence ? (
          <EvidenceView
            evidence={evidence}
            incidentId={id}
            afterFindings={inc?.mergedInto ? null : <WriteUpView incidentId={id} index={index} />}
          />
        ) : detail ? (
          <p className={s.muted} data-testid="data-testid incidents-no-evidence">
            No evidence captured yet: findings appear once the first capture completes.
          </p>
        ) : null}
        {detail ? (
          <section aria-label="Alerts of the incident">
            <h4 className={s.heading}>
              Alerts ({detail.alerts.length}
              {inc ? `, ${inc.firing} firing` : ''})
            </h4>
            {detail.alerts.length === 0 ? <p className={s.muted}>This incident holds no alert.</p> : null}
            {detail.alerts.map((a) => (
              <AlertCard key={a.fingerprint} a={a} />
            ))}
          </section>
        ) : loading ? (
          <LoadingPlaceholder text="Loading the incident’s alerts…" />
        ) : null}
      </div>
    </Drawer>
  );
}

function Subtitle({ id, row, inc }: { id: number; row?: IncidentRow; inc?: Incident }) {
  const severity = row?.severity ?? inc?.severity;
  const state = row?.state ?? inc?.state;
  return (
    <Stack gap={1} alignItems="center" wrap="wrap">
      {severity !== undefined ? <SeverityBadge severity={severity} /> : null}
      {state ? <StateBadge state={state} /> : null}
      {(row?.flapping ?? inc?.flapping) ? <Badge text="Flapping" color="purple" icon="exchange-alt" /> : null}
      <span>Incident #{id}</span>
    </Stack>
  );
}

function Facts({ inc }: { inc: Incident }) {
  const s = useStyles2(getStyles);
  const started = toMillis(inc.startedAt);
  const resolved = toMillis(inc.resolvedAt);
  const reopens = (inc.reopens ?? []).map(toMillis).filter((t): t is number => t !== undefined);
  return (
    <dl className={s.facts}>
      <dt>Namespace</dt>
      <dd>{namespaceLabel(inc.key.namespace)}</dd>
      {inc.key.workload ? (
        <>
          <dt>Workload</dt>
          <dd>{inc.key.workload}</dd>
        </>
      ) : (
        <>
          <dt>Grouped by</dt>
          <dd>alertname={inc.key.alertname || inc.title} (its alerts name no workload)</dd>
        </>
      )}
      {inc.summary ? (
        <>
          <dt>Summary</dt>
          <dd>{inc.summary}</dd>
        </>
      ) : null}
      <dt>Started</dt>
      <dd>
        {exactTime(started)} (<When at={started} />)
      </dd>
      {resolved !== undefined ? (
        <>
          <dt>Resolved</dt>
          <dd>
            {exactTime(resolved)}
            {started !== undefined ? `, after ${formatDuration(resolved - started)}` : ''}
          </dd>
        </>
      ) : null}
      {reopens.length ? (
        <>
          <dt>Reopened</dt>
          <dd>{reopens.map((t) => exactTime(t)).join(', ')}</dd>
        </>
      ) : null}
    </dl>
  );
}

function AlertCard({ a }: { a: AlertRecord }) {
  const s = useStyles2(getStyles);
  const name = a.labels?.alertname ?? a.fingerprint;
  const startsAt = toMillis(a.startsAt);
  const endsAt = toMillis(a.endsAt);
  const link = a.generatorURL ? dashboardLink(a.generatorURL) : undefined;
  const labels = Object.entries(a.labels ?? {}).sort(([x], [y]) => x.localeCompare(y));
  const annotations = Object.entries(a.annotations ?? {}).sort(([x], [y]) => x.localeCompare(y));
  const resolved = a.status === StatusResolved;
  return (
    <article className={s.card} aria-label={`Alert ${name}`} data-testid={testIds.incidents.drawerAlert}>
      <Stack gap={1} alignItems="center" wrap="wrap">
        <Badge text={resolved ? 'Resolved' : 'Firing'} color={resolved ? 'green' : 'red'} />
        <strong>{name}</strong>
        <span className={s.muted}>from {a.source || 'an unknown source'}</span>
      </Stack>
      <dl className={s.facts}>
        <dt>Starts at</dt>
        <dd>
          {exactTime(startsAt)} (<When at={startsAt} />)
        </dd>
        <dt>Ends at</dt>
        <dd>{endsAt !== undefined ? exactTime(endsAt) : resolved ? '—' : 'still firing'}</dd>
        <dt>Labels</dt>
        <dd>
          <ul className={s.labels} aria-label={`Labels of ${name}`}>
            {labels.map(([k, v]) => (
              <li key={k} className={s.label}>
                {k}={v}
              </li>
            ))}
          </ul>
        </dd>
      </dl>
      {annotations.length ? (
        <dl className={s.facts} aria-label={`Annotations of ${name}`}>
          {annotations.map(([k, v]) => (
            <React.Fragment key={k}>
              <dt>{k}</dt>
              <dd className={s.annotation}>{v}</dd>
            </React.Fragment>
          ))}
        </dl>
      ) : null}
      {link ? (
        <TextLink href={link.href} external={link.external} inline={false} aria-label={`Rule source of ${name}`}>
          Rule source
        </TextLink>
      ) : null}
    </article>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  heading: css({ margin: theme.spacing(2, 0, 1) }),
  muted: css({ color: theme.colors.text.secondary }),
  facts: css({
    display: 'grid',
    gridTemplateColumns: 'max-content 1fr',
    gap: theme.spacing(0.5, 2),
    margin: theme.spacing(1, 0),
    dt: { color: theme.colors.text.secondary },
    dd: { margin: 0, overflowWrap: 'anywhere' },
  }),
  annotation: css({ whiteSpace: 'pre-wrap' }),
  card: css({
    border: `1px solid ${theme.colors.border.weak}`,
    borderRadius: theme.shape.radius.default,
    padding: theme.spacing(1.5),
    marginBottom: theme.spacing(1.5),
  }),
  labels: css({
    display: 'flex',
    flexWrap: 'wrap',
    gap: theme.spacing(0.5),
    listStyle: 'none',
    padding: 0,
    margin: 0,
  }),
  label: css({
    fontFamily: theme.typography.fontFamilyMonospace,
    fontSize: theme.typography.bodySmall.fontSize,
    background: theme.colors.background.secondary,
    border: `1px solid ${theme.colors.border.weak}`,
    borderRadius: theme.shape.radius.default,
    padding: theme.spacing(0, 0.75),
  }),
});
