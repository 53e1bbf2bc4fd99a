export { SignOffPanel, type SignOffPanelProps } from './SignOffPanel';
export { SuggestionReview, describeAction } from './SuggestionReview';
export { StatusBadge } from './StatusBadge';
export { AuditTrail, subjectLabel } from './AuditTrail';
export { usePendingSignOff } from './usePendingSignOff';
export { useSignOffRole, roleAtLeast } from './role';
export { signoffApi, exportUrl, scenarioUrl } from './api';
