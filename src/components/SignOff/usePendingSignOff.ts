import { useEffect, useState } from 'react';
import type { Pending } from '../../api/wire/signoff';
import { signoffApi } from './api';

/**
 * How many suggestions await sign-off, per incident, refreshed every intervalMs (default 30 s): the incident list's
 * "Awaiting sign-off" filter keeps the rows whose id has a count. undefined until the first answer or when it fails.
 */
export function usePendingSignOff(intervalMs = 30_000): Map<number, number> | undefined {
  const [pending, setPending] = useState<Map<number, number>>();
  useEffect(() => {
    let live = true;
    const load = () =>
      signoffApi.pending().then(
        (p: Pending) => live && setPending(new Map(p.incidents.map((i) => [i.incident, i.count]))),
        () => live && setPending(undefined)
      );
    load();
    const t = setInterval(load, intervalMs);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, [intervalMs]);
  return pending;
}
