import { useCallback, useEffect, useMemo, useState } from 'react';
import { locationService } from '@grafana/runtime';
import { IncidentFilters, QUERY, filtersFromSearch, filtersToQuery } from './filters';

/** The current URL query, following every navigation (Grafana's locationService). */
export function useUrlSearch(): URLSearchParams {
  const [search, setSearch] = useState(() => locationService.getLocation().search);
  useEffect(() => {
    const sub = locationService.getLocationObservable().subscribe((loc) => setSearch(loc.search));
    return () => sub.unsubscribe();
  }, []);
  return useMemo(() => new URLSearchParams(search), [search]);
}

/**
 * The list's filters and the incident open in the drawer, kept in the URL
 * query so that a link reproduces the view. Changes replace the history
 * entry rather than adding one per click.
 */
export function useIncidentsView() {
  const search = useUrlSearch();
  const filters = useMemo(() => filtersFromSearch(search), [search]);
  const rawId = search.get(QUERY.incident);
  const openId = rawId !== null && /^\d+$/.test(rawId) ? Number(rawId) : undefined;
  const setFilters = useCallback((f: IncidentFilters) => locationService.partial(filtersToQuery(f), true), []);
  const setOpenId = useCallback(
    (id: number | undefined) =>
      locationService.partial({ [QUERY.incident]: id === undefined ? null : String(id) }, true),
    []
  );
  return { filters, setFilters, openId, setOpenId };
}
