import { useEffect, useReducer } from 'react';
import { Unsubscribable } from 'rxjs';
import {
  isLiveChannelMessageEvent,
  isLiveChannelStatusEvent,
  LiveChannelConnectionState,
  LiveChannelEvent,
  LiveChannelScope,
} from '@grafana/data';
import { getGrafanaLiveSrv } from '@grafana/runtime';
import { PLUGIN_ID } from '../../constants';
import { ALERTS_CHANNEL_PATH, AlertRow, AlertsSnapshot, readAlertsPacket } from './alertsFrame';

/** First and longest pause before joining a closed channel again. */
export const RESUBSCRIBE_FIRST_MS = 1000;
export const RESUBSCRIBE_MAX_MS = 30000;
const CLOSED_MESSAGE = 'The live alerts stream closed; reconnecting…';

/** What the page knows about the alerts stream. */
export interface AlertsStreamState {
  /** The last rows read from Prometheus; undefined until the first frame. */
  rows?: AlertRow[];
  /** When those rows arrived (unix ms). */
  rowsAt?: number;
  /** The latest frame's error notice (Prometheus unreachable, bad settings). */
  notice?: string;
  /** The Live channel failed or closed. */
  streamError?: string;
  /** When the latest frame arrived (unix ms). */
  updatedAt?: number;
}

type Action = { type: 'frame'; snapshot: AlertsSnapshot; at: number } | { type: 'streamError'; message?: string };

function reduce(state: AlertsStreamState, action: Action): AlertsStreamState {
  switch (action.type) {
    case 'frame': {
      const { rows, notice } = action.snapshot;
      // An error frame is empty: keep the rows last read so they stay visible under the notice.
      const keep = notice && rows.length === 0 && state.rows;
      return {
        rows: keep ? state.rows : rows,
        rowsAt: keep ? state.rowsAt : action.at,
        notice,
        streamError: undefined,
        updatedAt: action.at,
      };
    }
    case 'streamError':
      return state.streamError === action.message ? state : { ...state, streamError: action.message };
  }
}

/** A status event's error as text. */
function errorText(err: unknown): string {
  if (!err) {
    return '';
  }
  if (typeof err === 'string') {
    return err;
  }
  if (typeof err === 'object' && 'message' in err && typeof err.message === 'string') {
    return err.message;
  }
  return JSON.stringify(err);
}

/**
 * Subscribes to the plugin's "alerts" Live channel for as long as the
 * component is mounted.
 *
 * It reads the channel's events (getStream) and decodes each packet as a whole
 * frame rather than using getDataStream, whose streaming frame only forwards
 * new values while the schema stays the same: a notice appearing or clearing,
 * or the initial frame of a second viewer, would not reach the page.
 */
export function useAlertsStream(): AlertsStreamState {
  const [state, dispatch] = useReducer(reduce, {});
  useEffect(() => {
    const frame = (msg: unknown) => {
      const snapshot = readAlertsPacket(msg);
      if (snapshot) {
        dispatch({ type: 'frame', snapshot, at: Date.now() });
      }
    };
    let sub: Unsubscribable | undefined;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let delay = RESUBSCRIBE_FIRST_MS;
    let unmounted = false;
    // A channel that closed (the backend instance was replaced after a
    // settings save, Grafana restarted) is joined again on its own, with a
    // growing pause.
    const resubscribe = (message: string) => {
      dispatch({ type: 'streamError', message });
      sub?.unsubscribe();
      sub = undefined;
      if (retry === undefined && !unmounted) {
        retry = setTimeout(() => {
          retry = undefined;
          connect();
        }, delay);
        delay = Math.min(delay * 2, RESUBSCRIBE_MAX_MS);
      }
    };
    const connect = () => {
      sub = getGrafanaLiveSrv()
        .getStream({
          scope: LiveChannelScope.Plugin,
          stream: PLUGIN_ID,
          // Grafana versions before `stream` existed build the channel id from `namespace`.
          // eslint-disable-next-line @typescript-eslint/no-deprecated
          namespace: PLUGIN_ID,
          path: ALERTS_CHANNEL_PATH,
        })
        .subscribe({
          next: (evt: LiveChannelEvent<unknown>) => {
            if (isLiveChannelMessageEvent(evt)) {
              delay = RESUBSCRIBE_FIRST_MS;
              frame(evt.message);
              return;
            }
            if (!isLiveChannelStatusEvent(evt)) {
              return;
            }
            if (evt.error) {
              dispatch({ type: 'streamError', message: `The live alerts stream failed: ${errorText(evt.error)}` });
            } else if (evt.state === LiveChannelConnectionState.Disconnected) {
              dispatch({ type: 'streamError', message: 'The connection to Grafana Live was lost; reconnecting…' });
            } else if (
              evt.state === LiveChannelConnectionState.Shutdown ||
              evt.state === LiveChannelConnectionState.Invalid
            ) {
              resubscribe(CLOSED_MESSAGE);
              return;
            } else if (evt.state === LiveChannelConnectionState.Connected) {
              dispatch({ type: 'streamError', message: undefined });
            }
            if (evt.message) {
              // The subscription's initial frame (or the channel's last one).
              frame(evt.message);
            }
          },
          error: (err: unknown) => resubscribe(`The live alerts stream failed: ${errorText(err)}; reconnecting…`),
          complete: () => resubscribe(CLOSED_MESSAGE),
        });
    };
    connect();
    return () => {
      unmounted = true;
      clearTimeout(retry);
      sub?.unsubscribe();
    };
  }, []);
  return state;
}
