import { SelectableValue } from '@grafana/data';
import { StateOpen, StateResolved } from '../../api/wire/incident';
import { IncidentRow } from './incidentsFrame';

/** The list's filters, as the URL query keeps them (?state=open&severity=critical&namespace=shop). */
export interface IncidentFilters {
  /** undefined: open and resolved. */
  state?: typeof StateOpen | typeof StateResolved;
  /** Severities shown; empty: every severity. "" stands for incidents without a severity. */
  severity: string[];
  /** Namespaces shown; empty: every namespace. "" stands for incidents without a namespace. */
  namespace: string[];
  /** Only incidents with AI suggestions awaiting sign-off (?signoff=pending). */
  awaiting?: boolean;
}

/** The URL query keys the filters and the open incident use. */
export const QUERY = {
  state: 'state',
  severity: 'severity',
  namespace: 'namespace',
  awaiting: 'signoff',
  incident: 'incident',
} as const;

/** The ?signoff= value of the "Awaiting sign-off" filter. */
export const AWAITING = 'pending';

function distinct(values: string[]): string[] {
  return [...new Set(values)];
}

/** The filters a URL query holds; unknown states are ignored. */
export function filtersFromSearch(search: URLSearchParams): IncidentFilters {
  const state = search.get(QUERY.state);
  return {
    state: state === StateOpen || state === StateResolved ? state : undefined,
    severity: distinct(search.getAll(QUERY.severity).map((s) => s.toLowerCase())),
    namespace: distinct(search.getAll(QUERY.namespace)),
    awaiting: search.get(QUERY.awaiting) === AWAITING || undefined,
  };
}

/**
 * The filters as a partial URL query (for locationService.partial): a key
 * whose filter is off is removed (null), a list becomes repeated keys.
 */
export function filtersToQuery(f: IncidentFilters): Record<string, string | string[] | null> {
  return {
    [QUERY.state]: f.state ?? null,
    [QUERY.severity]: f.severity.length ? f.severity : null,
    [QUERY.namespace]: f.namespace.length ? f.namespace : null,
    [QUERY.awaiting]: f.awaiting ? AWAITING : null,
  };
}

export function isFiltered(f: IncidentFilters): boolean {
  return f.state !== undefined || f.severity.length > 0 || f.namespace.length > 0 || !!f.awaiting;
}

/**
 * The incidents the filters let through. pending counts each incident's suggestions awaiting sign-off
 * (undefined while unknown: the "Awaiting sign-off" filter then lets none through).
 */
export function applyFilters(rows: IncidentRow[], f: IncidentFilters, pending?: Map<number, number>): IncidentRow[] {
  const sev = new Set(f.severity);
  const ns = new Set(f.namespace);
  return rows.filter(
    (r) =>
      (f.state === undefined || r.state === f.state) &&
      (sev.size === 0 || sev.has(r.severity)) &&
      (ns.size === 0 || ns.has(r.namespace)) &&
      (!f.awaiting || (pending?.get(r.id) ?? 0) > 0)
  );
}

/** Open incidents first, then the most recently updated (then the newest id). */
export function sortIncidents(rows: IncidentRow[]): IncidentRow[] {
  const open = (r: IncidentRow) => (r.state === StateOpen ? 0 : 1);
  return [...rows].sort((a, b) => open(a) - open(b) || (b.updatedAt ?? 0) - (a.updatedAt ?? 0) || b.id - a.id);
}

/**
 * Severity ranks, most severe first: the common values of Prometheus's and
 * Grafana's severity label. Others sort after them, by name.
 */
const SEVERITY_RANK: Record<string, number> = {
  critical: 5,
  page: 5,
  error: 4,
  high: 4,
  warning: 3,
  warn: 3,
  medium: 3,
  info: 2,
  low: 2,
  none: 1,
};

export function severityRank(s: string): number {
  return SEVERITY_RANK[s.toLowerCase()] ?? 0;
}

const NO_SEVERITY = '(no severity)';
const NO_NAMESPACE = '(no namespace)';

export function severityLabel(s: string): string {
  return s || NO_SEVERITY;
}

export function namespaceLabel(ns: string): string {
  return ns || NO_NAMESPACE;
}

/** Select options for the values the incidents hold, plus any selected value they no longer hold. */
function options(values: string[], label: (v: string) => string, order: (a: string, b: string) => number) {
  return distinct(values)
    .sort(order)
    .map((v): SelectableValue<string> => ({ label: label(v), value: v }));
}

export function severityOptions(rows: IncidentRow[], selected: string[]): Array<SelectableValue<string>> {
  return options(
    [...rows.map((r) => r.severity), ...selected],
    severityLabel,
    (a, b) => severityRank(b) - severityRank(a) || (a === '' ? 1 : b === '' ? -1 : a.localeCompare(b))
  );
}

export function namespaceOptions(rows: IncidentRow[], selected: string[]): Array<SelectableValue<string>> {
  return options([...rows.map((r) => r.namespace), ...selected], namespaceLabel, (a, b) =>
    a === '' ? 1 : b === '' ? -1 : a.localeCompare(b)
  );
}
