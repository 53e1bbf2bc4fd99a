import { lastValueFrom } from 'rxjs';
import { getBackendSrv } from '@grafana/runtime';
import { RESOURCES_URL } from '../../constants';
import type { Verdict } from '../../api/wire/audit';
import {
  RouteIncident,
  RoutePending,
  RouteSuggestion,
  RouteVerify,
  RouteExport,
  type DecideRequest,
  type ExecuteRequest,
  type ExecuteResponse,
  type Pending,
  type Review,
  type Trail,
} from '../../api/wire/signoff';

async function request<T>(options: { url: string; method?: string; data?: unknown }): Promise<T> {
  const response = await lastValueFrom(
    getBackendSrv().fetch<T>({ method: 'GET', showErrorAlert: false, showSuccessAlert: false, ...options })
  );
  return response.data;
}

const key = (k: string) => encodeURIComponent(k);

/** The sign-off routes (pkg/signoff); the backend enforces every role. */
export const signoffApi = {
  /** An incident's suggestions with their decisions (any role). */
  reviews: (incident: number) => request<Review[]>({ url: `${RESOURCES_URL}${RouteIncident}/${incident}/suggestions` }),
  /** An incident's audit trail and whether the whole chain verifies (any role). */
  trail: (incident: number) => request<Trail>({ url: `${RESOURCES_URL}${RouteIncident}/${incident}/audit` }),
  /** Approve, reject or edit one suggestion, on the version the person saw (409 when someone decided first). */
  decide: (suggestionKey: string, req: DecideRequest) =>
    request<Review>({
      url: `${RESOURCES_URL}${RouteSuggestion}/${key(suggestionKey)}/decision`,
      method: 'POST',
      data: req,
    }),
  /** Run an approved step's allowlisted action. */
  execute: (suggestionKey: string, req: ExecuteRequest) =>
    request<ExecuteResponse>({
      url: `${RESOURCES_URL}${RouteSuggestion}/${key(suggestionKey)}/execute`,
      method: 'POST',
      data: req,
    }),
  /** How many suggestions await sign-off, per incident (the list's "Awaiting sign-off" filter). */
  pending: () => request<Pending>({ url: `${RESOURCES_URL}${RoutePending}` }),
  /** The chain's verdict (Admin). */
  verify: () => request<Verdict>({ url: `${RESOURCES_URL}${RouteVerify}` }),
};

/** The export's URL (Admin): a plain link downloads it with the Grafana session. */
export const exportUrl = (format: 'json' | 'csv') => `${RESOURCES_URL}${RouteExport}?format=${format}`;

/** The rejected-analysis scenario's URL (Admin). */
export const scenarioUrl = (incident: number, analysis: string) =>
  `${RESOURCES_URL}${RouteIncident}/${incident}/scenario?analysis=${encodeURIComponent(analysis)}`;
