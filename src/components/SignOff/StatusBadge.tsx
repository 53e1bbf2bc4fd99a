import React from 'react';
import { Badge, type BadgeColor, type IconName } from '@grafana/ui';

const look: Record<string, { text: string; color: BadgeColor; icon: IconName }> = {
  pending: { text: 'Awaiting sign-off', color: 'orange', icon: 'clock-nine' },
  edited: { text: 'Edited, awaiting approval', color: 'purple', icon: 'pen' },
  approved: { text: 'Approved', color: 'green', icon: 'check' },
  rejected: { text: 'Rejected', color: 'red', icon: 'times' },
  executing: { text: 'Executing', color: 'blue', icon: 'sync' },
  executed: { text: 'Executed', color: 'green', icon: 'check-circle' },
};

/** A suggestion's sign-off status. */
export function StatusBadge({ status }: { status: string }) {
  const l = look[status] ?? { text: status, color: 'darkgrey' as BadgeColor, icon: 'question-circle' as IconName };
  return <Badge text={l.text} color={l.color} icon={l.icon} data-testid={`signoff-status-${status}`} />;
}
