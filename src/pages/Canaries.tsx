import React from 'react';
import { PluginPage } from '@grafana/runtime';
import { EmptyState, TextLink } from '@grafana/ui';
import { PLUGIN_ID } from '../constants';
import { testIds } from '../components/testIds';

/** Canaries: Flagger canaries with promotion and rollback gated on sign-off. */
export default function Canaries() {
  return (
    <PluginPage>
      <div data-testid={testIds.canaries.container}>
        <EmptyState variant="not-found" message="No canaries shown yet">
          Live Flagger canary state is not part of this version. The{' '}
          <TextLink href={`/plugins/${PLUGIN_ID}`}>configuration page</TextLink> shows whether MeshWatch can reach the
          Kubernetes API and Flagger&apos;s CRDs.
        </EmptyState>
      </div>
    </PluginPage>
  );
}
