import React from 'react';
import { PluginPage } from '@grafana/runtime';
import { testIds } from '../components/testIds';
import { AlertsNow } from '../components/AlertsNow/AlertsNow';
import { IncidentList } from '../components/Incidents/IncidentList';

/**
 * Incidents: every alert that reached MeshWatch, grouped into incidents and
 * streamed live, and below them the alerts Prometheus evaluates right now.
 * Evidence packs, findings and reviewed write-ups come in a later version.
 */
export default function Incidents() {
  return (
    <PluginPage>
      <div data-testid={testIds.incidents.container}>
        <IncidentList />
        <AlertsNow />
      </div>
    </PluginPage>
  );
}
