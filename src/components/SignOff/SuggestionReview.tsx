import React, { useState } from 'react';
import { css } from '@emotion/css';
import type { GrafanaTheme2 } from '@grafana/data';
import { Alert, Button, Field, Input, Stack, Text, TextArea, useStyles2 } from '@grafana/ui';
import { errorMessage } from '../../api/client';
import type { Review } from '../../api/wire/signoff';
import type { Action } from '../../api/wire/actions';
import { signoffApi } from './api';
import { StatusBadge } from './StatusBadge';

export interface SuggestionReviewProps {
  review: Review;
  /** Whether the signed-in user holds the sign-off role (a hint; the backend decides). */
  canDecide: boolean;
  /** The role signing off takes, for the disabled controls' explanation. */
  role: string;
  /** Called after a decision or an execution, with the new review (or none after a conflict: reload). */
  onChanged: (review?: Review) => void;
}

/** The action as a person reads it. */
export function describeAction(a: Action): string {
  switch (a.kind) {
    case 'restart':
      return `Rollout restart of deployment ${a.namespace}/${a.name}`;
    case 'scale':
      return `Scale deployment ${a.namespace}/${a.name} to ${a.replicas} replicas`;
    case 'gate':
      return `${a.op === 'open' ? 'Open' : 'Close'} the ${a.gate} gate of canary ${a.namespace}/${a.name}`;
  }
  return `${a.kind} ${a.namespace}/${a.name}`;
}

const decidable = ['pending', 'edited', 'approved'];

/**
 * One suggestion (the root cause or one remediation step) with its status and the controls to approve, reject or edit
 * it with a comment, and to execute an approved step's allowlisted action.
 */
export function SuggestionReview({ review, canDecide, role, onChanged }: SuggestionReviewProps) {
  const s = useStyles2(getStyles);
  const [comment, setComment] = useState('');
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(review.suggestion.text);
  const [command, setCommand] = useState(review.suggestion.command ?? '');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const sg = review.suggestion;
  const title = sg.step === 0 ? 'Root cause' : `Step ${sg.step}`;
  const testId = `signoff-review-${review.key}`;

  const run = async (f: () => Promise<Review | undefined>) => {
    setBusy(true);
    setError(undefined);
    try {
      const r = await f();
      setComment('');
      setEditing(false);
      onChanged(r);
    } catch (err) {
      const status = (err as { status?: number })?.status;
      setError(errorMessage(err));
      if (status === 409) {
        onChanged(undefined); // someone decided first: show what stands now
      }
    } finally {
      setBusy(false);
    }
  };
  const decide = (decision: 'approve' | 'reject' | 'edit') =>
    run(() =>
      signoffApi.decide(review.key, {
        decision,
        version: review.version,
        comment,
        ...(decision === 'edit' ? { text, command } : {}),
      })
    );
  // A failed run is recorded too: the step shows it under "Last run failed" and can be run again.
  const execute = () =>
    run(async () => (await signoffApi.execute(review.key, { version: review.version, comment })).review);

  const canAct = canDecide && decidable.includes(review.status);
  const needsComment = comment.trim() === '';
  return (
    <div className={s.card} data-testid={testId}>
      <Stack direction="row" justifyContent="space-between" alignItems="center">
        <Text weight="medium">{title}</Text>
        <StatusBadge status={review.status} />
      </Stack>
      <p className={s.text}>{sg.text}</p>
      {review.original && (
        <Text variant="bodySmall" color="secondary">
          Edited; the model wrote: {review.original.text}
        </Text>
      )}
      {sg.command && <pre className={s.command}>{sg.command}</pre>}
      {sg.action && (
        <Text variant="bodySmall" color="secondary">
          Allowlisted action: {describeAction(sg.action)}
        </Text>
      )}
      {review.status !== 'pending' && review.by?.login && (
        <div>
          <Text variant="bodySmall" color="secondary">
            {review.status} by {review.by.name || review.by.login} ({review.by.role}) at{' '}
            {new Date(review.updatedAt).toLocaleString()}
          </Text>
        </div>
      )}
      {review.result && (
        <Alert
          severity={review.result.ok ? 'success' : 'error'}
          title={review.result.ok ? 'Last run succeeded' : 'Last run failed'}
          data-testid={`${testId}-result`}
        >
          {review.result.summary}
        </Alert>
      )}
      {error && (
        <Alert severity="error" title="Not recorded" data-testid={`${testId}-error`}>
          {error}
        </Alert>
      )}
      {!canDecide && (
        <Text variant="bodySmall" color="secondary" data-testid={`${testId}-readonly`}>
          Signing off needs the {role} role or higher.
        </Text>
      )}
      {canAct && (
        <div className={s.controls}>
          {editing && (
            <>
              <Field label="Text">
                <Input value={text} onChange={(e) => setText(e.currentTarget.value)} aria-label="Edited text" />
              </Field>
              {sg.step > 0 && (
                <Field label="Command">
                  <Input
                    value={command}
                    onChange={(e) => setCommand(e.currentTarget.value)}
                    aria-label="Edited command"
                  />
                </Field>
              )}
            </>
          )}
          <Field label="Comment" description="Required to reject or edit; recorded in the audit trail.">
            <TextArea
              value={comment}
              rows={2}
              onChange={(e) => setComment(e.currentTarget.value)}
              aria-label={`Comment on ${title}`}
            />
          </Field>
          <Stack direction="row" gap={1}>
            {review.status !== 'approved' && (
              <Button size="sm" icon="check" disabled={busy} onClick={() => decide('approve')}>
                Approve
              </Button>
            )}
            <Button
              size="sm"
              variant="destructive"
              icon="times"
              disabled={busy || needsComment}
              onClick={() => decide('reject')}
            >
              Reject
            </Button>
            {editing ? (
              <Button size="sm" variant="secondary" disabled={busy || needsComment} onClick={() => decide('edit')}>
                Save edit
              </Button>
            ) : (
              <Button size="sm" variant="secondary" icon="pen" disabled={busy} onClick={() => setEditing(true)}>
                Edit
              </Button>
            )}
            {review.executable && (
              <Button size="sm" variant="primary" icon="play" disabled={busy} onClick={execute}>
                Execute
              </Button>
            )}
          </Stack>
        </div>
      )}
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  card: css({
    border: `1px solid ${theme.colors.border.weak}`,
    borderRadius: theme.shape.radius.default,
    padding: theme.spacing(1.5),
    marginBottom: theme.spacing(1),
  }),
  text: css({ margin: theme.spacing(1, 0) }),
  command: css({ margin: theme.spacing(0.5, 0), whiteSpace: 'pre-wrap' }),
  controls: css({ marginTop: theme.spacing(1) }),
});
