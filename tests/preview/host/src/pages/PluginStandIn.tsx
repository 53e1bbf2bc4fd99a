/* What a plugin page shows until its plugin is there, as Grafana's plugin pages do. */
import React from 'react';
import { Alert, LoadingPlaceholder } from '@grafana/ui';
import { NotFound } from './NotFound';

/** Another plugin's URL is not found; a failed load shows its error; otherwise the plugin is loading. */
export function PluginStandIn({ otherPlugin, error }: { otherPlugin: boolean; error?: Error }) {
  if (otherPlugin) {
    return <NotFound />;
  }
  if (error) {
    return (
      <Alert severity="error" title="The plugin could not be loaded">
        {error.message}
      </Alert>
    );
  }
  return <LoadingPlaceholder text="Loading plugin…" />;
}
