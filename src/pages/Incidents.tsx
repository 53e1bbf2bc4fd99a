import React from 'react';
import { PluginPage } from '@grafana/runtime';
import { EmptyState, TextLink } from '@grafana/ui';
import { PLUGIN_ID } from '../constants';
import { testIds } from '../components/testIds';

/** Incidents: every alert becomes an incident with evidence, findings and a reviewed AI write-up. */
export default function Incidents() {
  return (
    <PluginPage>
      <div data-testid={testIds.incidents.container}>
        <EmptyState variant="not-found" message="No incidents yet">
          Alert intake, evidence packs and root-cause write-ups are not part of this version. Check that MeshWatch
          reaches Prometheus, Loki, Tempo, Alertmanager and Ollama on the{' '}
          <TextLink href={`/plugins/${PLUGIN_ID}`}>configuration page</TextLink>.
        </EmptyState>
      </div>
    </PluginPage>
  );
}
