import { LiveFrameState, useLiveFrame } from '../../live/useLiveFrame';
import type { Canary } from '../../api/wire/canaries';
import { CANARIES_CHANNEL_PATH, readCanariesPacket } from './canariesFrame';

const source = { path: CANARIES_CHANNEL_PATH, read: readCanariesPacket, what: 'canaries' };

/** Subscribes to the plugin's "canaries" Live channel while mounted (see useLiveFrame). */
export function useCanariesStream(): LiveFrameState<Canary> {
  return useLiveFrame(source);
}
