import { Reducer, useEffect, useReducer } from 'react';
import { Unsubscribable } from 'rxjs';
import {
  isLiveChannelMessageEvent,
  isLiveChannelStatusEvent,
  LiveChannelConnectionState,
  LiveChannelEvent,
  LiveChannelScope,
} from '@grafana/data';
import { getGrafanaLiveSrv } from '@grafana/runtime';
import { PLUGIN_ID } from '../constants';

/** First and longest pause before joining a closed channel again. */
export const RESUBSCRIBE_FIRST_MS = 1000;
export const RESUBSCRIBE_MAX_MS = 30000;

/** What one packet of a plugin stream says: the rows it holds, and its error notice. */
export interface LiveSnapshot<R> {
  rows: R[];
  /** The error notices' text: the backend could not read its source. */
  notice?: string;
}

/** What the page knows about one of the plugin's Live streams. */
export interface LiveFrameState<R> {
  /** The last rows read; undefined until the first frame. */
  rows?: R[];
  /** When those rows arrived (unix ms). */
  rowsAt?: number;
  /** The latest frame's error notice. */
  notice?: string;
  /** The Live channel failed or closed. */
  streamError?: string;
  /** When the latest frame arrived (unix ms). */
  updatedAt?: number;
}

/** How to read one plugin stream. */
export interface LiveFrameSource<R> {
  /** The channel path under plugin/<plugin id>/. */
  path: string;
  /** Decodes one packet; undefined for anything that is not this stream's frame. */
  read: (msg: unknown) => LiveSnapshot<R> | undefined;
  /** What the stream carries, for its messages ("alerts": "The live alerts stream closed"). */
  what: string;
}

type Action<R> = { type: 'frame'; snapshot: LiveSnapshot<R>; at: number } | { type: 'streamError'; message?: string };

function reduce<R>(state: LiveFrameState<R>, action: Action<R>): LiveFrameState<R> {
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
export function errorText(err: unknown): string {
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
 * Subscribes to one of the plugin's Live channels for as long as the
 * component is mounted, and joins it again on its own when it closes.
 *
 * It reads the channel's events (getStream) and decodes each packet as a whole
 * frame rather than using getDataStream, whose streaming frame only forwards
 * new values while the schema stays the same: a notice appearing or clearing,
 * or the initial frame of a second viewer, would not reach the page.
 */
export function useLiveFrame<R>(source: LiveFrameSource<R>): LiveFrameState<R> {
  const [state, dispatch] = useReducer<Reducer<LiveFrameState<R>, Action<R>>>(reduce, {});
  // Callers pass a decoder defined outside the component: a new one would subscribe again.
  const { path, read, what } = source;
  useEffect(() => {
    const closedMessage = () => `The live ${what} stream closed; reconnecting…`;
    const frame = (msg: unknown) => {
      const snapshot = read(msg);
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
          path,
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
              dispatch({ type: 'streamError', message: `The live ${what} stream failed: ${errorText(evt.error)}` });
            } else if (evt.state === LiveChannelConnectionState.Disconnected) {
              dispatch({ type: 'streamError', message: 'The connection to Grafana Live was lost; reconnecting…' });
            } else if (
              evt.state === LiveChannelConnectionState.Shutdown ||
              evt.state === LiveChannelConnectionState.Invalid
            ) {
              resubscribe(closedMessage());
              return;
            } else if (evt.state === LiveChannelConnectionState.Connected) {
              dispatch({ type: 'streamError', message: undefined });
            }
            if (evt.message) {
              // The subscription's initial frame (or the channel's last one).
              frame(evt.message);
            }
          },
          error: (err: unknown) => resubscribe(`The live ${what} stream failed: ${errorText(err)}; reconnecting…`),
          complete: () => resubscribe(closedMessage()),
        });
    };
    connect();
    return () => {
      unmounted = true;
      clearTimeout(retry);
      sub?.unsubscribe();
    };
  }, [path, read, what]);
  return state;
}
