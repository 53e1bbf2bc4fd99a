import React from 'react';
import { Alert, Badge, Text } from '@grafana/ui';
import type { Entry } from '../../api/wire/audit';

const verb: Record<string, string> = {
  propose: 'proposed',
  approve: 'approved',
  reject: 'rejected',
  edit: 'edited',
  execute: 'executed',
  'execute-result': 'result',
  refuse: 'refused',
  'gate-open': 'opened gate',
  'gate-close': 'closed gate',
};

/** What an entry was about: the root cause or step n of analysis a, or a gate. */
export function subjectLabel(subject: string): string {
  const [, analysis, step] = subject.split(':');
  if (step === 'root') {
    return `root cause (analysis ${analysis})`;
  }
  if (step) {
    return `step ${step} (analysis ${analysis})`;
  }
  return subject;
}

/** An incident's audit trail, oldest first, and whether the whole chain verifies. */
export function AuditTrail({ entries, chainOk }: { entries: Entry[]; chainOk: boolean }) {
  return (
    <div data-testid="signoff-trail">
      <Text element="h4">Audit trail</Text>
      {!chainOk && (
        <Alert severity="error" title="The audit chain does not verify">
          An entry was altered, deleted or reordered. An Admin can see where on the Audit page.
        </Alert>
      )}
      {entries.length === 0 ? (
        <Text color="secondary">No decisions yet.</Text>
      ) : (
        <ol data-testid="signoff-trail-entries">
          {entries.map((e) => (
            <li key={e.seq}>
              <Text variant="bodySmall" color="secondary">
                #{e.seq} {new Date(e.at).toLocaleString()}{' '}
              </Text>
              <Text weight="medium">{e.actor.name || e.actor.login}</Text>{' '}
              {e.actor.role && <Badge text={e.actor.role} color="darkgrey" />} {verb[e.action] ?? e.action}{' '}
              {subjectLabel(e.subject)}
              {e.comment && <Text italic>: “{e.comment}”</Text>}
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}
