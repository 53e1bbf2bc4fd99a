/*
 * /plugins/<pluginId>: a stand-in for Grafana's plugin details page. Admins
 * (plugins:write) get the app's config pages, registered with
 * AppPlugin.addConfigPage, rendered as Grafana renders them:
 * <page.body plugin={plugin} query={query} />, plus Enable/Disable. Other
 * roles get the overview only, as in Grafana, where config tabs need
 * plugins:write.
 */
import React, { useMemo, useState } from 'react';
import { useLocation, useParams } from 'react-router-dom';
import { lastValueFrom } from 'rxjs';
import { css } from '@emotion/css';
import { type GrafanaTheme2, type IconName, PluginContextProvider } from '@grafana/data';
import { getBackendSrv, locationSearchToObject, locationService } from '@grafana/runtime';
import { Alert, Button, Tab, TabContent, TabsBar, useStyles2 } from '@grafana/ui';
import { currentRole, previewBoot, roleAtLeast } from '../boot';
import { PluginStandIn } from './PluginStandIn';
import { useAppPlugin } from './usePlugin';

export function PluginDetailsPage() {
  const styles = useStyles2(getStyles);
  const { pluginId } = useParams();
  const location = useLocation();
  const { plugin, error } = useAppPlugin();
  const [busy, setBusy] = useState(false);
  const query = useMemo(() => locationSearchToObject(location.search), [location.search]);
  const boot = previewBoot();
  const canConfigure = roleAtLeast(currentRole(), 'Admin');
  if (pluginId !== boot.pluginId || !plugin) {
    return <PluginStandIn otherPlugin={pluginId !== boot.pluginId} error={error} />;
  }
  const meta = plugin.meta;
  const configPages = canConfigure ? (plugin.configPages ?? []) : [];
  const tabs = [{ id: 'overview', title: 'Overview', icon: 'file-alt' as IconName }, ...configPages];
  const current = tabs.find((t) => t.id === query.page) ?? configPages[0] ?? tabs[0];
  const page = configPages.find((p) => p.id === current.id);

  const toggleEnabled = async () => {
    setBusy(true);
    try {
      await lastValueFrom(
        getBackendSrv().fetch({
          url: `/api/plugins/${meta.id}/settings`,
          method: 'POST',
          data: { enabled: !meta.enabled, pinned: !meta.enabled, jsonData: meta.jsonData },
        })
      );
      window.location.reload();
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className={styles.page}>
      <div className={styles.header}>
        {meta.info.logos.small && <img src={meta.info.logos.small} alt="" className={styles.logo} />}
        <div className={styles.titles}>
          <h1 className={styles.title}>{meta.name}</h1>
          <div className={styles.muted}>
            Version {meta.info.version} · {meta.enabled ? 'Enabled' : 'Disabled'} · unsigned (preview)
          </div>
        </div>
        {canConfigure && (
          <Button
            variant={meta.enabled ? 'destructive' : 'primary'}
            fill="outline"
            onClick={toggleEnabled}
            disabled={busy}
          >
            {meta.enabled ? 'Disable' : 'Enable'}
          </Button>
        )}
      </div>
      <TabsBar>
        {tabs.map((t) => (
          <Tab
            key={t.id}
            label={t.title}
            icon={t.icon as IconName}
            active={t.id === current.id}
            onChangeTab={() => locationService.partial({ page: t.id })}
          />
        ))}
      </TabsBar>
      <TabContent className={styles.content}>
        {page ? (
          <PluginContextProvider meta={meta}>
            <page.body plugin={plugin} query={query} />
          </PluginContextProvider>
        ) : (
          <div className={styles.overview}>
            <p>{meta.info.description}</p>
            {!canConfigure && (
              <Alert severity="info" title="Configuration needs the Admin role">
                Grafana shows an app&apos;s configuration only to users with plugins:write (Admin by default). Switch
                the role at the top of the page to configure MeshWatch.
              </Alert>
            )}
          </div>
        )}
      </TabContent>
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  page: css({ padding: theme.spacing(2, 3), display: 'flex', flexDirection: 'column', gap: theme.spacing(2) }),
  header: css({ display: 'flex', gap: theme.spacing(2), alignItems: 'center' }),
  logo: css({ width: 48, height: 48 }),
  titles: css({ flex: 1 }),
  title: css({ margin: 0, fontSize: theme.typography.h2.fontSize }),
  muted: css({ color: theme.colors.text.secondary }),
  content: css({ paddingTop: theme.spacing(2) }),
  overview: css({ maxWidth: 800 }),
});
