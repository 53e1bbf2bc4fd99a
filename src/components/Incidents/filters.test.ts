import { locationService } from '@grafana/runtime';
import {
  applyFilters,
  filtersFromSearch,
  filtersToQuery,
  IncidentFilters,
  isFiltered,
  namespaceOptions,
  severityOptions,
  sortIncidents,
} from './filters';
import { IncidentRow } from './incidentsFrame';

function row(r: Partial<IncidentRow> & { id: number }): IncidentRow {
  return {
    state: 'open',
    severity: '',
    namespace: '',
    workload: '',
    title: '',
    summary: '',
    alerts: 1,
    firing: 1,
    flapping: false,
    reopens: 0,
    topFinding: '',
    groupAlerts: 1,
    groupWorkloads: 1,
    ...r,
  };
}

const rows = [
  row({ id: 1, state: 'resolved', severity: 'critical', namespace: 'shop', updatedAt: 5000 }),
  row({ id: 2, state: 'open', severity: 'warning', namespace: 'payments', updatedAt: 1000 }),
  row({ id: 3, state: 'open', severity: 'critical', namespace: 'shop', updatedAt: 3000 }),
  row({ id: 4, state: 'resolved', severity: '', namespace: '', updatedAt: 9000 }),
  row({ id: 5, state: 'open', severity: 'info', namespace: 'shop', updatedAt: 3000 }),
];

describe('incident filters', () => {
  it('read what the URL holds, ignoring unknown states and repeated values', () => {
    expect(filtersFromSearch(new URLSearchParams(''))).toEqual({ state: undefined, severity: [], namespace: [] });
    expect(
      filtersFromSearch(
        new URLSearchParams('state=resolved&severity=Critical&severity=critical&severity=warning&namespace=shop')
      )
    ).toEqual({ state: 'resolved', severity: ['critical', 'warning'], namespace: ['shop'] });
    expect(filtersFromSearch(new URLSearchParams('state=bogus')).state).toBeUndefined();
  });

  it('let through only the incidents that match every filter', () => {
    const ids = (f: IncidentFilters) => applyFilters(rows, f).map((r) => r.id);
    expect(ids({ severity: [], namespace: [] })).toEqual([1, 2, 3, 4, 5]);
    expect(ids({ state: 'open', severity: [], namespace: [] })).toEqual([2, 3, 5]);
    expect(ids({ state: 'resolved', severity: [], namespace: [] })).toEqual([1, 4]);
    expect(ids({ severity: ['critical', 'info'], namespace: [] })).toEqual([1, 3, 5]);
    expect(ids({ state: 'open', severity: ['critical'], namespace: ['shop'] })).toEqual([3]);
    expect(ids({ severity: [], namespace: ['payments', ''] })).toEqual([2, 4]);
    expect(ids({ severity: [''], namespace: [] })).toEqual([4]);
    expect(isFiltered({ severity: [], namespace: [] })).toBe(false);
    expect(isFiltered({ severity: [], namespace: [''] })).toBe(true);
  });

  it('keep, with "Awaiting sign-off", only the incidents whose AI suggestions await a decision', () => {
    const pending = new Map([
      [2, 3],
      [5, 0],
    ]);
    const f: IncidentFilters = { severity: [], namespace: [], awaiting: true };
    expect(applyFilters(rows, f, pending).map((r) => r.id)).toEqual([2]);
    // Unknown (sign-off unreadable): none, rather than rows that may not await anything.
    expect(applyFilters(rows, f, undefined)).toEqual([]);
    expect(applyFilters(rows, { ...f, awaiting: undefined }, pending)).toHaveLength(5);
    expect(isFiltered(f)).toBe(true);
    expect(filtersFromSearch(new URLSearchParams('signoff=pending')).awaiting).toBe(true);
    expect(filtersFromSearch(new URLSearchParams('signoff=yes')).awaiting).toBeUndefined();
    expect(filtersToQuery(f).signoff).toBe('pending');
    expect(filtersToQuery({ severity: [], namespace: [] }).signoff).toBeNull();
  });

  it('sort open incidents first, then the most recently updated', () => {
    expect(sortIncidents(rows).map((r) => r.id)).toEqual([5, 3, 2, 4, 1]);
  });

  it('offer the severities and namespaces the incidents hold, most severe first, plus what is selected', () => {
    expect(severityOptions(rows, ['page']).map((o) => o.value)).toEqual(['critical', 'page', 'warning', 'info', '']);
    expect(severityOptions(rows, []).find((o) => o.value === '')?.label).toBe('(no severity)');
    expect(namespaceOptions(rows, ['gone']).map((o) => o.label)).toEqual([
      'gone',
      'payments',
      'shop',
      '(no namespace)',
    ]);
  });

  it('round-trip through the URL with locationService, leaving other query keys alone', () => {
    locationService.push('/a/meshwatch-mesh-app/incidents?incident=12&from=now-1h');
    const f: IncidentFilters = { state: 'open', severity: ['critical', 'warning'], namespace: ['shop', ''] };
    locationService.partial(filtersToQuery(f), true);
    const search = locationService.getSearch();
    expect(search.getAll('severity')).toEqual(['critical', 'warning']);
    expect(search.get('incident')).toBe('12');
    expect(search.get('from')).toBe('now-1h');
    expect(filtersFromSearch(search)).toEqual(f);

    // Turning a filter off removes its key.
    locationService.partial(filtersToQuery({ severity: [], namespace: ['shop'] }), true);
    expect(locationService.getLocation().search).toBe('?incident=12&from=now-1h&namespace=shop');
    expect(filtersFromSearch(locationService.getSearch())).toEqual({
      state: undefined,
      severity: [],
      namespace: ['shop'],
    });
  });
});
