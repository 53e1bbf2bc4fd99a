/*
 * /preview/panel: a stand-in dashboard panel (a timeseries drawn with
 * @grafana/ui over a data frame) whose menu lists the links the plugin
 * registers for grafana/dashboard/panel/menu, as Grafana's panel menu does:
 * usePluginLinks with the panel's PluginExtensionPanelContext and at most
 * three links per plugin. A link's onClick gets {context, openModal}; a link
 * with a path navigates there.
 *
 * ?case= picks the panel (panel/panelData.ts): data (default), nodata,
 * empty, oversized, text. Its targets use the host's default Prometheus
 * datasource (the stack's, when the host plays one), else the placeholder.
 */
import React, { useEffect, useMemo, useState } from 'react';
import { css } from '@emotion/css';
import {
  type GrafanaTheme2,
  type PluginExtensionLink,
  PluginExtensionPoints,
  applyFieldOverrides,
} from '@grafana/data';
import { getDataSourceSrv, locationService, usePluginLinks } from '@grafana/runtime';
import { Alert, LegendDisplayMode, Menu, PanelChrome, TimeSeries, useStyles2, useTheme2 } from '@grafana/ui';
import { previewBoot } from '../boot';
import { DASHBOARD, panelCase, standInContext, standInPanel } from '../panel/panelData';
import { useAppPlugin } from './usePlugin';

const NOW = Date.now();

export function PanelPreviewPage() {
  const styles = useStyles2(getStyles);
  const theme = useTheme2();
  const { plugin, error } = useAppPlugin();
  const uid = useMemo(defaultPrometheusUid, []);
  const fontsReady = useFontsReady();
  const which = panelCase(locationService.getSearchObject().case);

  const panel = useMemo(() => standInPanel(which, uid, NOW), [which, uid]);
  const data = panel.data;
  const frames = useMemo(
    () =>
      applyFieldOverrides({
        data: data?.series ?? [],
        fieldConfig: { defaults: {}, overrides: [] },
        replaceVariables: (v) => v,
        theme,
        timeZone: 'utc',
      }),
    [data?.series, theme]
  );
  const context = useMemo(() => standInContext(panel), [panel]);
  // The registry is filled once module.js has loaded; `plugin` re-renders this.
  const { links } = usePluginLinks({
    extensionPointId: PluginExtensionPoints.DashboardPanelMenu,
    context,
    limitPerPlugin: 3,
  });

  const onLink = (link: PluginExtensionLink, event?: React.MouseEvent) => {
    if (link.onClick) {
      link.onClick(event);
      return;
    }
    if (link.path) {
      if (link.openInNewTab) {
        window.open(link.path, '_blank', 'noopener');
      } else {
        locationService.push(link.path);
      }
    }
  };

  const menu = (
    <Menu>
      <Menu.Group label="Extensions">
        {links.length > 0 ? (
          links.map((link) => (
            <Menu.Item
              key={link.id}
              label={link.title}
              icon={link.icon}
              description={link.description}
              onClick={(e) => onLink(link, e)}
            />
          ))
        ) : (
          <Menu.Item label="No extensions" disabled />
        )}
      </Menu.Group>
    </Menu>
  );

  return (
    <div className={styles.page}>
      <h1 className={styles.title}>{DASHBOARD.title}</h1>
      <p className={styles.muted}>
        A stand-in for one dashboard panel. Its menu lists the links MeshWatch registers for the dashboard panel menu (
        <code>{PluginExtensionPoints.DashboardPanelMenu}</code>), called with the context Grafana gives them.
      </p>
      {error && (
        <Alert severity="error" title="The plugin could not be loaded">
          {error.message}
        </Alert>
      )}
      <div
        className={styles.panel}
        data-testid="preview panel"
        data-panel-case={which}
        data-plugin-loaded={plugin ? 'true' : 'false'}
      >
        <PanelChrome
          width={960}
          height={360}
          title={panel.title}
          description={panel.description}
          menu={menu}
          collapsible={false}
          showMenuAlways
        >
          {(width, height) =>
            panel.text !== undefined ? (
              <p className={styles.text}>{panel.text}</p>
            ) : !data ? (
              <p className={styles.muted} data-testid="preview panel not loaded">
                Not loaded yet: Grafana has not run this panel’s queries, so the context its links get carries no data.
              </p>
            ) : frames.length === 0 ? (
              <p className={styles.muted}>No data</p>
            ) : (
              fontsReady && (
                <TimeSeries
                  frames={frames}
                  width={width}
                  height={height}
                  timeRange={data.timeRange}
                  timeZone="utc"
                  legend={{
                    showLegend: frames.length <= 10,
                    displayMode: LegendDisplayMode.List,
                    placement: 'bottom',
                    calcs: [],
                  }}
                />
              )
            )
          }
        </PanelChrome>
      </div>
    </div>
  );
}

/** The host's default Prometheus datasource (the stack's when it plays one), else the stand-in's placeholder. */
function defaultPrometheusUid(): string {
  // eslint-disable-next-line @typescript-eslint/no-deprecated
  const list = getDataSourceSrv().getList({ type: 'prometheus' });
  return (list.find((ds) => ds.isDefault) ?? list[0])?.uid ?? previewBoot().datasourceUid;
}

/**
 * uPlot sizes its axes by measuring text once; wait until the theme's font
 * (declared by GlobalStyles) has loaded, as Grafana has it preloaded.
 */
function useFontsReady() {
  const [ready, setReady] = useState(false);
  useEffect(() => {
    let live = true;
    const theme = document.fonts;
    Promise.all([theme.load('400 12px Inter'), theme.load('500 12px Inter')])
      .catch(() => undefined)
      .then(() => live && setReady(true));
    return () => {
      live = false;
    };
  }, []);
  return ready;
}

const getStyles = (theme: GrafanaTheme2) => ({
  page: css({ padding: theme.spacing(2, 3), display: 'flex', flexDirection: 'column', gap: theme.spacing(2) }),
  title: css({ margin: 0, fontSize: theme.typography.h2.fontSize }),
  muted: css({ color: theme.colors.text.secondary, margin: 0 }),
  panel: css({ width: 960 }),
  text: css({ padding: theme.spacing(1), margin: 0 }),
});
