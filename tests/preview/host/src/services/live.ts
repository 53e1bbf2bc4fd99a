/*
 * getGrafanaLiveSrv() for the preview host. Grafana speaks Centrifuge on
 * /api/live/ws; the preview server speaks a small JSON protocol on the same
 * path (pkg/devkit/preview/live.go) that runs the plugin's SubscribeStream and
 * RunStream. This turns it into the observables plugins use.
 */
import { BehaviorSubject, Observable, map } from 'rxjs';
import {
  type DataQueryResponse,
  type LiveChannelAddress,
  type LiveChannelEvent,
  LiveChannelConnectionState,
  LiveChannelEventType,
  LoadingState,
  type DataFrameJSON,
  dataFrameFromJSON,
  isLiveChannelMessageEvent,
  isLiveChannelStatusEvent,
  toLiveChannelId,
} from '@grafana/data';
import type { GrafanaLiveSrv, LiveDataStreamOptions } from '@grafana/runtime';

interface ServerEvent {
  id: number;
  status?: 'subscribed' | 'error' | 'closed';
  data?: unknown;
  message?: unknown;
  error?: string;
}

export class PreviewLiveSrv implements GrafanaLiveSrv {
  private socket?: WebSocket;
  private open?: Promise<WebSocket>;
  private nextId = 1;
  private handlers = new Map<number, (ev: ServerEvent) => void>();
  private connected = new BehaviorSubject<boolean>(false);

  private connect(): Promise<WebSocket> {
    if (this.open && this.socket && this.socket.readyState <= WebSocket.OPEN) {
      return this.open;
    }
    const url = `${window.location.protocol === 'https:' ? 'wss' : 'ws'}://${window.location.host}/api/live/ws`;
    const socket = new WebSocket(url);
    this.socket = socket;
    this.open = new Promise((resolve, reject) => {
      socket.onopen = () => {
        this.connected.next(true);
        resolve(socket);
      };
      socket.onerror = () => reject(new Error('the preview host live connection failed'));
    });
    socket.onmessage = (msg) => {
      const ev = JSON.parse(String(msg.data)) as ServerEvent;
      this.handlers.get(ev.id)?.(ev);
    };
    socket.onclose = () => {
      this.connected.next(false);
      for (const [id, handler] of this.handlers) {
        handler({ id, status: 'error', error: 'connection closed' });
      }
      this.handlers.clear();
    };
    return this.open;
  }

  getConnectionState(): Observable<boolean> {
    return this.connected.asObservable();
  }

  getStream<T>(address: LiveChannelAddress): Observable<LiveChannelEvent<T>> {
    const channel = toLiveChannelId(address);
    return new Observable<LiveChannelEvent<T>>((subscriber) => {
      const id = this.nextId++;
      let active = true;
      const status = (state: LiveChannelConnectionState, extra: { message?: unknown; error?: unknown } = {}) =>
        subscriber.next({ type: LiveChannelEventType.Status, id: channel, timestamp: Date.now(), state, ...extra });
      status(LiveChannelConnectionState.Connecting);
      this.handlers.set(id, (ev) => {
        if (ev.status === 'subscribed') {
          status(LiveChannelConnectionState.Connected, ev.data != null ? { message: ev.data } : {});
        } else if (ev.status === 'error') {
          status(LiveChannelConnectionState.Invalid, { error: new Error(ev.error ?? 'stream error') });
          this.handlers.delete(id);
          subscriber.complete();
        } else if (ev.status === 'closed') {
          status(LiveChannelConnectionState.Shutdown);
          this.handlers.delete(id);
          subscriber.complete();
        } else if ('message' in ev) {
          subscriber.next({ type: LiveChannelEventType.Message, message: ev.message as T });
        }
      });
      this.connect()
        .then((socket) => {
          if (active) {
            socket.send(JSON.stringify({ id, subscribe: { channel, data: address.data } }));
          }
        })
        .catch((e: unknown) => {
          status(LiveChannelConnectionState.Disconnected, { error: e });
          subscriber.complete();
        });
      return () => {
        active = false;
        if (this.handlers.delete(id) && this.socket?.readyState === WebSocket.OPEN) {
          this.socket.send(JSON.stringify({ id, unsubscribe: true }));
        }
      };
    });
  }

  getDataStream(options: LiveDataStreamOptions): Observable<DataQueryResponse> {
    // Like Grafana's: the subscription's initial data and every message are
    // frames; a failed subscription is an error response.
    return this.getStream<DataFrameJSON>(options.addr).pipe(
      map((ev): DataQueryResponse => {
        if (isLiveChannelMessageEvent(ev)) {
          return { key: options.key, state: LoadingState.Streaming, data: [dataFrameFromJSON(ev.message)] };
        }
        if (isLiveChannelStatusEvent(ev) && ev.error) {
          const message = ev.error instanceof Error ? ev.error.message : String(ev.error);
          return { key: options.key, state: LoadingState.Error, error: { message }, data: [] };
        }
        if (isLiveChannelStatusEvent(ev) && ev.message) {
          return {
            key: options.key,
            state: LoadingState.Streaming,
            data: [dataFrameFromJSON(ev.message as DataFrameJSON)],
          };
        }
        return { key: options.key, state: LoadingState.Loading, data: [] };
      })
    );
  }

  getPresence(): Promise<never> {
    return Promise.reject(new Error('presence is not offered by the preview host'));
  }

  publish(): Promise<never> {
    return Promise.reject(new Error('PublishStream is not offered by the preview host'));
  }
}
