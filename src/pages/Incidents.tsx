import React from 'react';
import { PluginPage } from '@grafana/runtime';
import { EmptyState, TextLink } from '@grafana/ui';
import { PLUGIN_ID } from '../constants';
import { testIds } from '../components/testIds';
import { AlertsNow } from '../components/AlertsNow/AlertsNow';

/**
 * Incidents: for now, the alerts Prometheus evaluates live. Incidents with
 * evidence, findings and reviewed write-ups come in a later version.
 */
export default function Incidents() {
  return (
    <PluginPage>
      <div data-testid={testIds.incidents.container}>
        <AlertsNow />
        <EmptyState variant="not-found" message="No incidents yet">
          “Alerts now” above lists what Prometheus evaluates at this moment. Incidents, with their evidence packs,
          findings and root-cause write-ups, are not part of this version yet. If that list reports an error, check that
          MeshWatch reaches Prometheus on the <TextLink href={`/plugins/${PLUGIN_ID}`}>configuration page</TextLink>.
        </EmptyState>
      </div>
    </PluginPage>
  );
}
