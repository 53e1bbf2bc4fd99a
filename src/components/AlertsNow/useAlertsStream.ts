import { LiveFrameState, useLiveFrame } from '../../live/useLiveFrame';
import { ALERTS_CHANNEL_PATH, AlertRow, readAlertsPacket } from './alertsFrame';

export { RESUBSCRIBE_FIRST_MS, RESUBSCRIBE_MAX_MS } from '../../live/useLiveFrame';

/** What the page knows about the alerts stream (rows: the alerts last read from Prometheus). */
export type AlertsStreamState = LiveFrameState<AlertRow>;

const source = { path: ALERTS_CHANNEL_PATH, read: readAlertsPacket, what: 'alerts' };

/**
 * Subscribes to the plugin's "alerts" Live channel for as long as the
 * component is mounted (see useLiveFrame: resubscribe with backoff, error
 * notices, the last rows kept under an error frame).
 */
export function useAlertsStream(): AlertsStreamState {
  return useLiveFrame(source);
}
