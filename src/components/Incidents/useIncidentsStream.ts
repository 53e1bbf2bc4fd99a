import { LiveFrameState, useLiveFrame } from '../../live/useLiveFrame';
import { INCIDENTS_CHANNEL_PATH, IncidentRow, readIncidentsPacket } from './incidentsFrame';

/** What the page knows about the incidents stream (rows: the incidents last read from the store). */
export type IncidentsStreamState = LiveFrameState<IncidentRow>;

const source = { path: INCIDENTS_CHANNEL_PATH, read: readIncidentsPacket, what: 'incidents' };

/**
 * Subscribes to the plugin's "incidents" Live channel for as long as the
 * component is mounted (see useLiveFrame: resubscribe with backoff, error
 * notices, the last rows kept under an error frame).
 */
export function useIncidentsStream(): IncidentsStreamState {
  return useLiveFrame(source);
}
