export { CanariesView } from './CanariesView';
export { CanaryCard, WeightBar, Timeline } from './CanaryCard';
export { useCanariesStream } from './useCanariesStream';
export { decide } from './api';
export { canaryIds } from './ids';
