import { config } from '@grafana/runtime';
import { usePluginContext } from '@grafana/data';

const rank: Record<string, number> = { Viewer: 1, Editor: 2, Admin: 3 };

/** Whether role meets the least role min (Grafana org roles). */
export function roleAtLeast(role: string | undefined, min: string): boolean {
  return (rank[role ?? ''] ?? 0) >= (rank[min] ?? 3) && (rank[role ?? ''] ?? 0) > 0;
}

/**
 * Whether the signed-in user may sign off, and the role it takes (the app's signOff.role, Editor by default). Only a
 * hint for the page: the backend decides.
 */
export function useSignOffRole(): { canDecide: boolean; role: string; userRole: string } {
  const ctx = usePluginContext();
  const jsonData = (ctx?.meta?.jsonData ?? {}) as { signOff?: { role?: string } };
  const role = jsonData.signOff?.role === 'Admin' ? 'Admin' : 'Editor';
  const userRole = config.bootData?.user?.orgRole ?? '';
  return { canDecide: roleAtLeast(userRole, role), role, userRole };
}
