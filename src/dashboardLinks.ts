import type { AppSettings } from './api/types';

/**
 * The datasource variables of MeshWatch's dashboards (dashboards/vars.go, commonDSVars), by the
 * settings section whose datasource they show. Alertmanager has none.
 */
export const DASHBOARD_DATASOURCE_VARS = {
  prometheus: 'datasource',
  loki: 'loki',
  tempo: 'tempo',
} as const;

/** MeshWatch's own dashboards: their uids start with this (plugin.json includes). */
const OWN_DASHBOARD = /^\/d\/meshwatch-[^/?#]*(\/[^?#]*)?(\?[^#]*)?(#.*)?$/;

/**
 * A Grafana-relative link to one of MeshWatch's dashboards, with the datasources the admin picked
 * (jsonData's <section>.datasourceUid) as the dashboard's datasource variables
 * (var-datasource=<uid>, var-loki=…, var-tempo=…), so the dashboard shows what the app reads.
 * A variable the link already sets is kept; sections without a datasourceUid add nothing (the
 * dashboard's default applies); any other link is returned as it is.
 */
export function withDatasourceVars(href: string, jsonData: AppSettings | undefined): string {
  const m = OWN_DASHBOARD.exec(href);
  if (!m || !jsonData) {
    return href;
  }
  const query = m[2] ?? '';
  const hash = m[3] ?? '';
  const params = new URLSearchParams(query.slice(1));
  const add = new URLSearchParams();
  for (const [section, variable] of Object.entries(DASHBOARD_DATASOURCE_VARS)) {
    const uid = jsonData[section as keyof typeof DASHBOARD_DATASOURCE_VARS]?.datasourceUid;
    if (uid && !params.has(`var-${variable}`)) {
      add.append(`var-${variable}`, uid);
    }
  }
  if (add.toString() === '') {
    return href;
  }
  // The link's own query is kept as it is; the variables are appended.
  const base = href.slice(0, href.length - query.length - hash.length);
  const sep = query === '' ? '?' : query === '?' ? '' : '&';
  return `${base}${query}${sep}${add.toString()}${hash}`;
}
