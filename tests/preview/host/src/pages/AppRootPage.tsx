/* /a/<pluginId>/*: the app's root page, as Grafana's AppRootPage renders it. */
import React, { useMemo } from 'react';
import { useLocation, useParams } from 'react-router-dom';
import { type AppRootProps, PluginContextProvider } from '@grafana/data';
import { locationSearchToObject } from '@grafana/runtime';
import { Alert } from '@grafana/ui';
import { previewBoot } from '../boot';
import { PluginStandIn } from './PluginStandIn';
import { useAppPlugin } from './usePlugin';

export function AppRootPage() {
  const { pluginId } = useParams();
  const location = useLocation();
  const { plugin, error } = useAppPlugin();
  const query = useMemo(() => locationSearchToObject(location.search), [location.search]);
  if (pluginId !== previewBoot().pluginId || !plugin) {
    return <PluginStandIn otherPlugin={pluginId !== previewBoot().pluginId} error={error} />;
  }
  if (!plugin.root) {
    return <Alert severity="error" title="No root app page component found" />;
  }
  const Root = plugin.root as React.ComponentType<AppRootProps>;
  return (
    <PluginContextProvider meta={plugin.meta}>
      {!plugin.meta.enabled && (
        <Alert severity="warning" title="This app is disabled">
          Grafana would not show a disabled app&apos;s pages; enable it on its configuration page.
        </Alert>
      )}
      <Root
        meta={plugin.meta}
        basename={`/a/${pluginId}`}
        onNavChanged={() => {}}
        query={query}
        path={location.pathname}
      />
    </PluginContextProvider>
  );
}
