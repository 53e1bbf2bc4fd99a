import React, { useState } from 'react';
import { css } from '@emotion/css';
import { GrafanaTheme2 } from '@grafana/data';
import { Alert, Badge, Button, LinkButton, Stack, Tooltip, useStyles2 } from '@grafana/ui';
import type { Canary, HistoryEntry } from '../../api/wire/canaries';
import { canaryIds } from './ids';
import { DecisionModal } from './DecisionModal';
import { decidable, heldAt, phaseColor, phaseText, rangeText, valueText } from './format';

export interface CanaryCardProps {
  canary: Canary;
  /** The user holds the sign-off role (a hint: the backend decides). */
  canDecide: boolean;
  /** The role a sign-off needs, for the read-only note. */
  role: string;
  /** The canary dashboard for this canary, or undefined. */
  dashboardUrl?: string;
  onDecide: (c: Canary, decision: 'promote' | 'rollback', comment: string) => Promise<void>;
}

/** The weight bar: the canary's share of the traffic over the analysis steps. */
export function WeightBar({ canary }: { canary: Canary }) {
  const styles = useStyles2(getStyles);
  const steps = canary.steps.length ? [...canary.steps, 100] : [100];
  return (
    <div data-testid={canaryIds.weight} aria-label={`canary weight ${canary.weight}%`}>
      <div className={styles.bar}>
        <div className={styles.fill} style={{ width: `${Math.min(100, Math.max(0, canary.weight))}%` }} />
        {steps.map((s) => (
          <span key={s} className={styles.tick} style={{ left: `${s}%` }} title={`step ${s}%`} />
        ))}
      </div>
      <div className={styles.steps}>
        {steps.map((s) => (
          <span
            key={s}
            className={s <= canary.weight && canary.weight > 0 ? styles.stepDone : styles.step}
            style={{ left: `${s}%` }}
          >
            {s}%
          </span>
        ))}
      </div>
      <div className={styles.weightText}>now {canary.weight}%</div>
    </div>
  );
}

const kindColor: Record<string, 'green' | 'red' | 'orange' | 'blue' | 'purple'> = {
  progression: 'blue',
  promotion: 'green',
  rollback: 'red',
  halt: 'orange',
  gate: 'purple',
};

/** The canary's history, newest first. */
export function Timeline({ history }: { history: HistoryEntry[] }) {
  const styles = useStyles2(getStyles);
  if (history.length === 0) {
    return <div className={styles.muted}>No events yet (Kubernetes keeps events for an hour).</div>;
  }
  return (
    <ol className={styles.timeline} data-testid={canaryIds.timeline}>
      {[...history].reverse().map((h, i) => (
        <li key={`${h.at}-${i}`}>
          <span className={styles.time}>{new Date(h.at).toLocaleTimeString()}</span>{' '}
          <Badge text={h.kind} color={h.warning && h.kind === 'info' ? 'orange' : (kindColor[h.kind] ?? 'blue')} />{' '}
          {h.message}
          {h.count && h.count > 1 ? <span className={styles.muted}> ×{h.count}</span> : null}
        </li>
      ))}
    </ol>
  );
}

/** One canary: phase, weight over the steps, checks against thresholds, the decision buttons, the timeline. */
export function CanaryCard({ canary: c, canDecide, role, dashboardUrl, onDecide }: CanaryCardProps) {
  const styles = useStyles2(getStyles);
  const [asking, setAsking] = useState<'promote' | 'rollback'>();
  const held = heldAt(c);
  const button = (decision: 'promote' | 'rollback') => {
    const can = canDecide && decidable(c, decision);
    const label = decision === 'promote' ? 'Promote' : 'Roll back';
    const why = !canDecide
      ? `Signing off needs the ${role} role`
      : !decidable(c, decision)
        ? `Nothing to ${decision === 'promote' ? 'promote' : 'roll back'} while the canary is ${phaseText(c.phase)} (or it has no load tester gate)`
        : undefined;
    const btn = (
      <Button
        data-testid={decision === 'promote' ? canaryIds.promote : canaryIds.rollback}
        size="sm"
        variant={decision === 'promote' ? 'primary' : 'destructive'}
        fill={decision === 'promote' ? 'solid' : 'outline'}
        disabled={!can}
        onClick={() => setAsking(decision)}
      >
        {label}
      </Button>
    );
    return why ? (
      <Tooltip content={why}>
        <span>{btn}</span>
      </Tooltip>
    ) : (
      btn
    );
  };
  return (
    <section className={styles.card} data-testid={canaryIds.card(c.namespace, c.name)}>
      <Stack justifyContent="space-between" alignItems="center" wrap="wrap">
        <Stack alignItems="center" gap={1}>
          <h3 className={styles.title}>
            {c.namespace}/{c.name}
          </h3>
          <span data-testid={canaryIds.phase}>
            <Badge text={phaseText(c.phase)} color={phaseColor(c.phase)} />
          </span>
          {c.suspended && <Badge text="suspended" color="orange" />}
          <span className={styles.muted}>
            {c.targetKind} {c.targetName} · every {c.interval}
            {c.revision ? ` · revision ${c.revision}` : ''}
          </span>
        </Stack>
        <Stack gap={1}>
          {button('promote')}
          {button('rollback')}
          {dashboardUrl && (
            <LinkButton size="sm" variant="secondary" fill="text" icon="apps" href={dashboardUrl}>
              Canary dashboard
            </LinkButton>
          )}
        </Stack>
      </Stack>
      {held && (
        <Alert
          data-testid={canaryIds.awaiting}
          severity="warning"
          title={canDecide ? 'Awaiting your decision' : `Awaiting a decision (${role} or higher)`}
        >
          Flagger holds the canary at {c.weight}% in {c.phase}: its {held} gate stays closed until someone signs off.
          The metric checks keep running and can still roll it back.
        </Alert>
      )}
      <WeightBar canary={c} />
      <div className={styles.checks} data-testid={canaryIds.checks}>
        <span>
          Failed checks{' '}
          <strong className={c.failedChecks > 0 ? styles.bad : undefined}>
            {c.failedChecks} / {c.threshold}
          </strong>
        </span>
        {c.metrics.map((m) => (
          <span key={m.name}>
            {m.name} <strong className={m.passing === false ? styles.bad : undefined}>{valueText(m.value)}</strong>{' '}
            <span className={styles.muted}>
              (needs {rangeText(m)}
              {m.interval ? ` over ${m.interval}` : ''})
            </span>
          </span>
        ))}
      </div>
      <Timeline history={c.history} />
      {asking && (
        <DecisionModal
          canary={c}
          decision={asking}
          onDismiss={() => setAsking(undefined)}
          onSubmit={(comment) => onDecide(c, asking, comment)}
        />
      )}
    </section>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  card: css({
    border: `1px solid ${theme.colors.border.weak}`,
    borderRadius: theme.shape.radius.default,
    padding: theme.spacing(2),
    marginBottom: theme.spacing(2),
    display: 'flex',
    flexDirection: 'column',
    gap: theme.spacing(1.5),
  }),
  title: css({ margin: 0, fontSize: theme.typography.h4.fontSize }),
  muted: css({ color: theme.colors.text.secondary }),
  bad: css({ color: theme.colors.error.text }),
  bar: css({
    position: 'relative',
    height: theme.spacing(1.5),
    background: theme.colors.background.secondary,
    borderRadius: theme.shape.radius.default,
  }),
  fill: css({
    position: 'absolute',
    top: 0,
    bottom: 0,
    left: 0,
    background: theme.colors.primary.main,
    borderRadius: theme.shape.radius.default,
  }),
  tick: css({ position: 'absolute', top: 0, bottom: 0, width: 1, background: theme.colors.border.strong }),
  steps: css({ position: 'relative', height: theme.spacing(2.5), fontSize: theme.typography.bodySmall.fontSize }),
  step: css({ position: 'absolute', transform: 'translateX(-50%)', color: theme.colors.text.secondary }),
  stepDone: css({ position: 'absolute', transform: 'translateX(-50%)', fontWeight: theme.typography.fontWeightBold }),
  weightText: css({ textAlign: 'right', fontSize: theme.typography.bodySmall.fontSize }),
  checks: css({ display: 'flex', flexWrap: 'wrap', gap: theme.spacing(3) }),
  timeline: css({
    listStyle: 'none',
    margin: 0,
    padding: 0,
    maxHeight: 240,
    overflowY: 'auto',
    fontSize: theme.typography.bodySmall.fontSize,
    li: { padding: theme.spacing(0.25, 0) },
  }),
  time: css({ fontFamily: theme.typography.fontFamilyMonospace, color: theme.colors.text.secondary }),
});
