import React, { useState } from 'react';
import { Alert, Button, Field, Modal, TextArea } from '@grafana/ui';
import type { Canary } from '../../api/wire/canaries';
import { canaryIds } from './ids';

export interface DecisionModalProps {
  canary: Canary;
  decision: 'promote' | 'rollback';
  /** Sends the decision; rejects with the backend's message. */
  onSubmit: (comment: string) => Promise<void>;
  onDismiss: () => void;
}

/** Asks for the comment a sign-off needs, then sends it. */
export function DecisionModal({ canary, decision, onSubmit, onDismiss }: DecisionModalProps) {
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const what = decision === 'promote' ? 'Promote' : 'Roll back';
  const submit = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await onSubmit(comment.trim());
      onDismiss();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal title={`${what} ${canary.namespace}/${canary.name}`} isOpen onDismiss={onDismiss}>
      <p>
        {decision === 'promote'
          ? 'Opens the canary’s promotion gate: Flagger promotes it on its next check, unless a metric check fails first.'
          : 'Opens the canary’s rollback gate: Flagger routes all traffic back to the primary on its next check.'}{' '}
        Your decision and comment are recorded in the audit trail.
      </p>
      <Field label="Comment" description="Why — required, recorded with your sign-off">
        <TextArea
          data-testid={canaryIds.comment}
          value={comment}
          rows={3}
          onChange={(e) => setComment(e.currentTarget.value)}
        />
      </Field>
      {error && (
        <Alert severity="error" title="The decision was not taken">
          {error}
        </Alert>
      )}
      <Modal.ButtonRow>
        <Button variant="secondary" fill="outline" onClick={onDismiss}>
          Cancel
        </Button>
        <Button
          data-testid={canaryIds.confirm}
          variant={decision === 'promote' ? 'primary' : 'destructive'}
          disabled={busy || comment.trim() === ''}
          onClick={submit}
        >
          {what}
        </Button>
      </Modal.ButtonRow>
    </Modal>
  );
}
