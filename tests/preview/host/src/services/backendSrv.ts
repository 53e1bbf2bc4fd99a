/*
 * getBackendSrv() for the preview host: fetch() against the preview server,
 * with the request and error conventions of Grafana's BackendSrv (JSON bodies,
 * X-Grafana-Org-Id, FetchResponse/FetchError shapes, requestId cancellation,
 * success and error toasts on the same conditions).
 */
import { Observable, lastValueFrom } from 'rxjs';
import { AppEvents } from '@grafana/data';
import {
  type BackendSrv,
  type BackendSrvRequest,
  type FetchError,
  type FetchResponse,
  getAppEvents,
} from '@grafana/runtime';

function isLocal(url: string): boolean {
  return !/^https?:\/\//.test(url) || url.startsWith(window.location.origin);
}

function buildUrl(options: BackendSrvRequest): string {
  let url = options.url;
  if (!/^https?:\/\//.test(url) && !url.startsWith('/')) {
    url = '/' + url;
  }
  if (options.params) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(options.params)) {
      if (v === undefined || v === null) {
        continue;
      }
      for (const item of Array.isArray(v) ? v : [v]) {
        qs.append(k, String(item));
      }
    }
    const s = qs.toString();
    if (s) {
      url += (url.includes('?') ? '&' : '?') + s;
    }
  }
  return url;
}

function buildBody(options: BackendSrvRequest, headers: Headers): BodyInit | undefined {
  const data = options.data;
  if (data === undefined || data === null) {
    return undefined;
  }
  if (
    typeof data === 'string' ||
    data instanceof FormData ||
    data instanceof Blob ||
    data instanceof ArrayBuffer ||
    data instanceof URLSearchParams
  ) {
    return data;
  }
  if (!headers.has('Content-Type')) {
    headers.set('Content-Type', 'application/json');
  }
  return JSON.stringify(data);
}

async function readBody(res: Response, responseType: BackendSrvRequest['responseType']): Promise<unknown> {
  switch (responseType) {
    case 'blob':
      return res.blob();
    case 'arraybuffer':
      return res.arrayBuffer();
    case 'text':
      return res.text();
  }
  const text = await res.text();
  if (text === '') {
    return responseType === 'json' ? {} : text;
  }
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export class PreviewBackendSrv implements BackendSrv {
  private inFlight = new Map<string, AbortController>();

  fetch<T>(options: BackendSrvRequest): Observable<FetchResponse<T>> {
    return new Observable<FetchResponse<T>>((subscriber) => {
      const controller = new AbortController();
      if (options.requestId) {
        this.inFlight.get(options.requestId)?.abort();
        this.inFlight.set(options.requestId, controller);
      }
      options.abortSignal?.addEventListener('abort', () => controller.abort());
      const method = (options.method ?? 'GET').toUpperCase();
      const config = { ...options, method };
      const url = buildUrl(options);
      const headers = new Headers(options.headers ?? {});
      if (!headers.has('Accept')) {
        headers.set('Accept', 'application/json, text/plain, */*');
      }
      if (isLocal(url)) {
        headers.set('X-Grafana-Org-Id', '1');
      }
      const body = buildBody(options, headers);
      let finished = false;
      fetch(url, {
        method,
        headers,
        body,
        signal: controller.signal,
        credentials: options.credentials ?? 'same-origin',
      })
        .then(async (res) => {
          const data = (await readBody(res, options.responseType)) as T;
          const response: FetchResponse<T> = { ...responseMeta(res, config), data };
          finished = true;
          if (!res.ok) {
            const err: FetchError = { status: res.status, statusText: res.statusText, data, config };
            const message = (data as { message?: string; error?: string } | undefined)?.message;
            if (message) {
              err.message = message;
            }
            this.errorToast(err, url);
            subscriber.error(err);
            return;
          }
          this.successToast(response, url);
          subscriber.next(response);
          subscriber.complete();
        })
        .catch((e: unknown) => {
          finished = true;
          const cancelled = controller.signal.aborted;
          const err: FetchError = {
            status: cancelled ? -1 : 0,
            statusText: cancelled ? 'Request was aborted' : String(e),
            data: { message: cancelled ? 'Request was aborted' : 'Network error' },
            cancelled,
            config,
          };
          subscriber.error(err);
        })
        .finally(() => {
          if (options.requestId && this.inFlight.get(options.requestId) === controller) {
            this.inFlight.delete(options.requestId);
          }
        });
      return () => {
        if (!finished) {
          controller.abort();
        }
      };
    });
  }

  // Grafana shows a success toast for non-GET local requests whose answer has a message.
  private successToast(res: FetchResponse, url: string) {
    const { config } = res;
    if (config.showSuccessAlert === false) {
      return;
    }
    if (config.showSuccessAlert === undefined && (config.method === 'GET' || !isLocal(url))) {
      return;
    }
    const message = (res.data as { message?: string } | undefined)?.message;
    if (message) {
      getAppEvents().publish({ type: AppEvents.alertSuccess.name, payload: [message] });
    }
  }

  // ... and an error toast for failed non-GET local requests.
  private errorToast(err: FetchError, url: string) {
    const { config } = err;
    if (config.showErrorAlert === false) {
      return;
    }
    if (config.showErrorAlert === undefined && (config.method === 'GET' || !isLocal(url))) {
      return;
    }
    const data = err.data as { message?: string; error?: string } | undefined;
    getAppEvents().publish({
      type: AppEvents.alertError.name,
      payload: [data?.message ?? data?.error ?? err.statusText ?? 'Request failed'],
    });
    err.isHandled = true;
  }

  request<T = unknown>(options: BackendSrvRequest): Promise<T> {
    return lastValueFrom(this.fetch<T>(options)).then((r) => r.data);
  }

  datasourceRequest<T = unknown>(options: BackendSrvRequest): Promise<FetchResponse<T>> {
    return lastValueFrom(this.fetch<T>(options));
  }

  get<T = unknown>(
    url: string,
    params?: unknown,
    requestId?: string,
    options?: Partial<BackendSrvRequest>
  ): Promise<T> {
    return this.request<T>({ ...options, url, method: 'GET', params: params as Record<string, unknown>, requestId });
  }

  delete<T = unknown>(url: string, data?: unknown, options?: Partial<BackendSrvRequest>): Promise<T> {
    return this.request<T>({ ...options, url, method: 'DELETE', data });
  }

  post<T = unknown>(url: string, data?: unknown, options?: Partial<BackendSrvRequest>): Promise<T> {
    return this.request<T>({ ...options, url, method: 'POST', data });
  }

  patch<T = unknown>(url: string, data?: unknown, options?: Partial<BackendSrvRequest>): Promise<T> {
    return this.request<T>({ ...options, url, method: 'PATCH', data });
  }

  put<T = unknown>(url: string, data?: unknown, options?: Partial<BackendSrvRequest>): Promise<T> {
    return this.request<T>({ ...options, url, method: 'PUT', data });
  }

  chunked(options: BackendSrvRequest): Observable<FetchResponse<Uint8Array | undefined>> {
    return new Observable((subscriber) => {
      const controller = new AbortController();
      const method = (options.method ?? 'GET').toUpperCase();
      const config = { ...options, method };
      const url = buildUrl(options);
      const headers = new Headers(options.headers ?? {});
      headers.set('X-Grafana-Org-Id', '1');
      const body = buildBody(options, headers);
      fetch(url, { method, headers, body, signal: controller.signal })
        .then(async (res) => {
          const base = responseMeta(res, config);
          const reader = res.body?.getReader();
          if (!reader) {
            subscriber.next({ ...base, data: undefined });
            subscriber.complete();
            return;
          }
          for (;;) {
            const { done, value } = await reader.read();
            if (done) {
              break;
            }
            subscriber.next({ ...base, data: value });
          }
          subscriber.complete();
        })
        .catch((e: unknown) => subscriber.error({ status: 0, statusText: String(e), data: undefined, config }));
      return () => controller.abort();
    });
  }
}

/** The parts of a FetchResponse that come from the HTTP response itself. */
function responseMeta(res: Response, config: BackendSrvRequest) {
  return {
    status: res.status,
    statusText: res.statusText,
    ok: res.ok,
    headers: res.headers,
    redirected: res.redirected,
    type: res.type,
    url: res.url,
    config,
  };
}
