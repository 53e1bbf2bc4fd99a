import { lastValueFrom } from 'rxjs';
import { getBackendSrv, FetchError } from '@grafana/runtime';
import { PluginMeta } from '@grafana/data';
import { PLUGIN_ID, RESOURCES_URL } from '../constants';
import {
  AppSettings,
  EffectiveSettings,
  ErrorBody,
  HealthReport,
  IncidentDetail,
  SecureKey,
  ValidateRequest,
  ValidateResponse,
} from './types';
import { RouteIncidents } from './wire/incidents';
import { RouteAnalysis } from './wire/analyses';

async function request<T>(options: { url: string; method?: string; data?: unknown }): Promise<T> {
  const response = await lastValueFrom(
    getBackendSrv().fetch<T>({ method: 'GET', showErrorAlert: false, showSuccessAlert: false, ...options })
  );
  return response.data;
}

/** The error message of a failed backend call, in MeshWatch's {error, detail} shape or Grafana's. */
export function errorMessage(err: unknown): string {
  const fe = err as FetchError<Partial<ErrorBody> & { message?: string }>;
  const data = fe?.data;
  if (data?.error) {
    return data.detail ? `${data.error}: ${data.detail}` : data.error;
  }
  if (data?.message) {
    return data.message;
  }
  return err instanceof Error ? err.message : String(fe?.statusText ?? err);
}

export const api = {
  settings: () => request<EffectiveSettings>({ url: `${RESOURCES_URL}/settings` }),

  validate: (jsonData: AppSettings, secureJsonFields: Partial<Record<SecureKey, boolean>>) =>
    request<ValidateResponse>({
      url: `${RESOURCES_URL}/settings/validate`,
      method: 'POST',
      data: { jsonData, secureJsonFields } satisfies ValidateRequest,
    }),

  /** Runs the backend's CheckHealth through Grafana. A failing check answers 503 with the same report. */
  health: async (): Promise<HealthReport> => {
    try {
      const res = await request<{ details?: HealthReport; message?: string }>({
        url: `/api/plugins/${PLUGIN_ID}/health`,
      });
      return res.details ?? { status: 'ok', summary: res.message ?? '', results: [] };
    } catch (err) {
      const details = (err as FetchError<{ details?: HealthReport; message?: string }>)?.data?.details;
      if (details) {
        return details;
      }
      throw err;
    }
  },

  /** One incident and its alerts (any role may read it). */
  incident: (id: number) => request<IncidentDetail>({ url: `${RESOURCES_URL}${RouteIncidents}/${id}` }),

  /** Asks for a fresh LLM write-up of the incident's latest evidence (Editor and above). */
  analyseAgain: (id: number) =>
    request<unknown>({ url: `${RESOURCES_URL}${RouteAnalysis.replace('{id}', String(id))}`, method: 'POST' }),

  saveSettings: (data: Partial<PluginMeta<AppSettings>> & { secureJsonData?: Partial<Record<SecureKey, string>> }) =>
    request<unknown>({ url: `/api/plugins/${PLUGIN_ID}/settings`, method: 'POST', data }),
};
