import React, { useCallback, useEffect, useState } from 'react';
import { Alert, LoadingPlaceholder, Stack, Text } from '@grafana/ui';
import { errorMessage } from '../../api/client';
import type { Review, Trail } from '../../api/wire/signoff';
import { signoffApi } from './api';
import { AuditTrail } from './AuditTrail';
import { useSignOffRole } from './role';
import { SuggestionReview } from './SuggestionReview';

export interface SignOffPanelProps {
  incidentId: number;
  /** Show the incident's audit trail under the suggestions (default true). */
  showTrail?: boolean;
  /** Only this analysis's suggestions (the write-up on the page); every analysis's when unset. */
  analysisId?: string;
}

/**
 * The sign-off of one incident's AI suggestions: each root cause and remediation step with its status badge and the
 * approve, reject, edit, comment and execute controls, then the incident's audit trail. Standalone: the incident
 * drawer embeds it with the incident's id.
 */
export function SignOffPanel({ incidentId, showTrail = true, analysisId }: SignOffPanelProps) {
  const { canDecide, role } = useSignOffRole();
  const [loaded, setLoaded] = useState<{ id: number; reviews?: Review[]; trail?: Trail; error?: string }>();
  const [tick, setTick] = useState(0);
  const load = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => {
    let live = true;
    Promise.all([signoffApi.reviews(incidentId), signoffApi.trail(incidentId)]).then(
      ([reviews, trail]) => live && setLoaded({ id: incidentId, reviews, trail }),
      (err) => live && setLoaded({ id: incidentId, error: errorMessage(err) })
    );
    return () => {
      live = false;
    };
  }, [incidentId, tick]);
  const current = loaded?.id === incidentId ? loaded : undefined;
  const { trail, error } = current ?? {};
  const reviews =
    analysisId === undefined ? current?.reviews : current?.reviews?.filter((r) => r.suggestion.analysis === analysisId);

  if (error) {
    return (
      <Alert severity="warning" title="Sign-off is unavailable">
        {error}
      </Alert>
    );
  }
  if (!reviews) {
    return <LoadingPlaceholder text="Loading sign-off…" />;
  }
  const pending = reviews.filter((r) => r.status === 'pending' || r.status === 'edited').length;
  return (
    <div data-testid="signoff-panel">
      <Stack direction="row" alignItems="baseline" gap={1}>
        <Text element="h4">Sign-off</Text>
        {pending > 0 && (
          <Text color="warning" data-testid="signoff-pending-count">
            {pending} awaiting sign-off
          </Text>
        )}
      </Stack>
      {reviews.length === 0 ? (
        <Text color="secondary">No AI suggestions for this incident yet.</Text>
      ) : (
        reviews.map((r) => (
          <SuggestionReview key={r.key} review={r} canDecide={canDecide} role={role} onChanged={load} />
        ))
      )}
      {showTrail && trail && <AuditTrail entries={trail.entries} chainOk={trail.chainOk} />}
    </div>
  );
}
