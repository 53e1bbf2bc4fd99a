/** The Canaries page's test ids (the page container's is in ../testIds). */
export const canaryIds = {
  card: (namespace: string, name: string) => `data-testid canary ${namespace}/${name}`,
  phase: 'data-testid canary-phase',
  weight: 'data-testid canary-weight',
  checks: 'data-testid canary-checks',
  timeline: 'data-testid canary-timeline',
  awaiting: 'data-testid canary-awaiting',
  promote: 'data-testid canary-promote',
  rollback: 'data-testid canary-rollback',
  comment: 'data-testid canary-comment',
  confirm: 'data-testid canary-confirm',
  notice: 'data-testid canaries-notice',
  empty: 'data-testid canaries-empty',
};
