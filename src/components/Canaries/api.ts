import { lastValueFrom } from 'rxjs';
import { getBackendSrv } from '@grafana/runtime';
import { RESOURCES_URL } from '../../constants';
import { errorMessage } from '../../api/client';
import type { DecisionRequest, DecisionResponse } from '../../api/wire/canaries';

/** Signs off a canary: promote or rollback with a comment; rejects with the backend's message. */
export async function decide(
  namespace: string,
  name: string,
  decision: 'promote' | 'rollback',
  comment: string
): Promise<DecisionResponse> {
  try {
    const res = await lastValueFrom(
      getBackendSrv().fetch<DecisionResponse>({
        url: `${RESOURCES_URL}/canaries/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/${decision}`,
        method: 'POST',
        data: { comment } satisfies DecisionRequest,
        showErrorAlert: false,
        showSuccessAlert: false,
      })
    );
    return res.data;
  } catch (err) {
    throw new Error(errorMessage(err));
  }
}

/** The canary dashboard for a canary (Flagger labels its metrics with the target's name). */
export function dashboardHref(namespace: string, target: string): string {
  const q = new URLSearchParams({ 'var-namespace': namespace, 'var-canary': target });
  return `/d/meshwatch-canary?${q.toString()}`;
}
