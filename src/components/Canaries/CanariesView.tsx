import React from 'react';
import { Alert, EmptyState, TextLink } from '@grafana/ui';
import type { Canary } from '../../api/wire/canaries';
import type { AppSettings } from '../../api/types';
import type { LiveFrameState } from '../../live/useLiveFrame';
import { withDatasourceVars } from '../../dashboardLinks';
import { PLUGIN_ID } from '../../constants';
import { CanaryCard } from './CanaryCard';
import { canaryIds } from './ids';
import { dashboardHref } from './api';

export interface CanariesViewProps {
  stream: LiveFrameState<Canary>;
  canDecide: boolean;
  role: string;
  jsonData?: AppSettings;
  onDecide: (c: Canary, decision: 'promote' | 'rollback', comment: string) => Promise<void>;
}

/** Every canary, the ones awaiting a decision first; live from the "canaries" stream. */
export function CanariesView({ stream, canDecide, role, jsonData, onDecide }: CanariesViewProps) {
  const rows = stream.rows;
  const sorted = rows
    ? [...rows].sort((a, b) => Number(b.awaitingDecision) - Number(a.awaitingDecision) || 0)
    : undefined;
  return (
    <>
      {(stream.notice || stream.streamError) && (
        <Alert data-testid={canaryIds.notice} severity="warning" title="Canary state may be out of date">
          {stream.notice ?? stream.streamError}
        </Alert>
      )}
      {sorted === undefined && !stream.notice && <div>Loading canaries…</div>}
      {sorted && sorted.length === 0 && (
        <div data-testid={canaryIds.empty}>
          <EmptyState variant="not-found" message="No canaries">
            MeshWatch sees no Flagger Canary in the namespaces it watches. The{' '}
            <TextLink href={`/plugins/${PLUGIN_ID}`}>configuration page</TextLink> shows whether it can reach the
            Kubernetes API and Flagger&apos;s CRDs.
          </EmptyState>
        </div>
      )}
      {sorted?.map((c) => (
        <CanaryCard
          key={`${c.namespace}/${c.name}`}
          canary={c}
          canDecide={canDecide}
          role={role}
          dashboardUrl={withDatasourceVars(dashboardHref(c.namespace, c.targetName || c.name), jsonData)}
          onDecide={onDecide}
        />
      ))}
    </>
  );
}
