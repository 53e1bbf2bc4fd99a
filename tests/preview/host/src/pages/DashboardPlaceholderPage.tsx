/*
 * /d/:uid — a labelled placeholder. Dashboards are drawn by Grafana's core,
 * which the preview host does not have; links the plugin's pages make to
 * them (an alert's dashboard_url) land here and say what Grafana would
 * open: the plugin's dashboard with that uid (read from the JSON the plugin
 * ships), the variables and time range the link sets, and its panels.
 */
import React, { useEffect, useState } from 'react';
import { Link, useLocation, useParams } from 'react-router-dom';
import { css } from '@emotion/css';
import type { GrafanaTheme2 } from '@grafana/data';
import { Alert, LoadingPlaceholder, useStyles2 } from '@grafana/ui';
import { previewBoot } from '../boot';

interface DashboardPanel {
  type?: string;
  title?: string;
  panels?: DashboardPanel[];
}

interface DashboardJson {
  title?: string;
  panels?: DashboardPanel[];
}

/** Panel titles in order, rows as headings (a collapsed row holds its panels). */
function panelTitles(panels: DashboardPanel[] = []): Array<{ title: string; row: boolean }> {
  return panels.flatMap((p) => [
    { title: p.title || `(untitled ${p.type ?? 'panel'})`, row: p.type === 'row' },
    ...panelTitles(p.panels).map((c) => ({ ...c, row: false })),
  ]);
}

export function DashboardPlaceholderPage() {
  const styles = useStyles2(getStyles);
  const { uid } = useParams();
  const { search } = useLocation();
  const boot = previewBoot();
  const include = (boot.plugin.includes ?? []).find((inc) => inc.type === 'dashboard' && inc.uid === uid);
  const [dashboard, setDashboard] = useState<DashboardJson>();
  const [error, setError] = useState<string>();

  useEffect(() => {
    if (!include?.path) {
      return;
    }
    let live = true;
    fetch(`/public/plugins/${boot.pluginId}/${include.path}`)
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status} for ${include.path}`))))
      .then(
        (d: DashboardJson) => live && setDashboard(d),
        (e: Error) => live && setError(e.message)
      );
    return () => {
      live = false;
    };
  }, [boot.pluginId, include?.path]);

  const params = new URLSearchParams(search);
  const variables = [...params].filter(([k]) => k.startsWith('var-')).map(([k, v]) => [k.slice(4), v]);
  const from = params.get('from');
  const to = params.get('to');

  return (
    <div className={styles.page}>
      <h1>Dashboard: {dashboard?.title ?? include?.name ?? uid}</h1>
      <Alert severity="info" title="Dashboards are drawn by Grafana, not by the preview host">
        In Grafana this link opens the dashboard below{include ? ', which the plugin ships and provisions' : ''}. Here
        the preview host shows what it would open.
      </Alert>
      {!include ? (
        <Alert severity="error" title={`No dashboard with uid "${uid}" in the plugin`}>
          The plugin&apos;s dashboards are listed in its plugin.json includes.
        </Alert>
      ) : null}
      {error ? (
        <Alert severity="error" title="The dashboard JSON could not be read">
          {error}
        </Alert>
      ) : null}
      <h2 className={styles.h2}>What the link sets</h2>
      <dl className={styles.vars} aria-label="Dashboard variables">
        <dt>uid</dt>
        <dd>{uid}</dd>
        {variables.map(([name, value]) => (
          <React.Fragment key={name}>
            <dt>{name}</dt>
            <dd>{value}</dd>
          </React.Fragment>
        ))}
        <dt>time range</dt>
        <dd>{from || to ? `${from ?? 'default'} to ${to ?? 'now'}` : 'the dashboard’s default'}</dd>
      </dl>
      {include && !dashboard && !error ? <LoadingPlaceholder text="Reading the dashboard…" /> : null}
      {dashboard ? (
        <>
          <h2 className={styles.h2}>Panels</h2>
          <ul className={styles.panels} aria-label="Dashboard panels">
            {panelTitles(dashboard.panels).map((p, i) => (
              <li key={i} className={p.row ? styles.row : undefined}>
                {p.title}
              </li>
            ))}
          </ul>
        </>
      ) : null}
      <p>
        <Link to="/">All pages</Link>
      </p>
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  page: css({ padding: theme.spacing(2, 3), maxWidth: 900 }),
  h2: css({ marginTop: theme.spacing(3) }),
  vars: css({
    display: 'grid',
    gridTemplateColumns: 'max-content 1fr',
    gap: theme.spacing(0.5, 2),
    dt: { color: theme.colors.text.secondary },
    dd: { margin: 0, fontFamily: theme.typography.fontFamilyMonospace },
  }),
  panels: css({ paddingLeft: theme.spacing(2) }),
  row: css({
    fontWeight: theme.typography.fontWeightMedium,
    listStyle: 'none',
    marginTop: theme.spacing(1),
    marginLeft: theme.spacing(-2),
  }),
});
