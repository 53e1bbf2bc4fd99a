import type { Canary, Metric } from '../../api/wire/canaries';

/** The badge colour of a Flagger phase. */
export function phaseColor(phase: string): 'green' | 'red' | 'orange' | 'blue' | 'purple' {
  switch (phase) {
    case 'Succeeded':
    case 'Initialized':
      return 'green';
    case 'Failed':
      return 'red';
    case 'Waiting':
    case 'WaitingPromotion':
      return 'orange';
    case 'Progressing':
    case 'Promoting':
    case 'Finalising':
      return 'blue';
    default:
      return 'purple';
  }
}

/** The phase as shown ("" means Flagger has not seen the canary yet). */
export function phaseText(phase: string): string {
  return phase || 'Not initialised';
}

/** A metric's threshold range as text: "≥ 99.5", "≤ 500", "99 – 100". */
export function rangeText(m: Metric): string {
  if (m.min !== undefined && m.max !== undefined) {
    return `${m.min} – ${m.max}`;
  }
  if (m.min !== undefined) {
    return `≥ ${m.min}`;
  }
  if (m.max !== undefined) {
    return `≤ ${m.max}`;
  }
  return 'no threshold';
}

/** A measured value, short. */
export function valueText(v: number | undefined): string {
  if (v === undefined) {
    return 'no value yet';
  }
  return Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4).replace(/\.?0+$/, '');
}

/** Where the canary is held, for "awaiting your decision": the gate type, or undefined. */
export function heldAt(c: Canary): 'confirm-promotion' | 'confirm-rollout' | undefined {
  if (!c.awaitingDecision) {
    return undefined;
  }
  return c.phase === 'Waiting' ? 'confirm-rollout' : 'confirm-promotion';
}

/** Whether a decision can still act on the canary (the backend refuses the others). */
export function decidable(c: Canary, gateType: 'promote' | 'rollback'): boolean {
  const live = ['Waiting', 'Progressing', 'WaitingPromotion'].includes(c.phase);
  const gate = c.gates.some(
    (g) => g.loadTester && (gateType === 'rollback' ? g.type === 'rollback' : g.type !== 'rollback')
  );
  return live && gate;
}
