import React, { useId } from 'react';
import { css } from '@emotion/css';
import { GrafanaTheme2, SelectableValue } from '@grafana/data';
import { Button, ComboboxOption, Field, InlineSwitch, MultiCombobox, RadioButtonGroup, useStyles2 } from '@grafana/ui';
import { StateOpen, StateResolved } from '../../api/wire/incident';
import { testIds } from '../testIds';
import { IncidentFilters, isFiltered, namespaceOptions, severityOptions } from './filters';
import { IncidentRow } from './incidentsFrame';

const ALL = 'all';
const STATE_OPTIONS: Array<SelectableValue<string>> = [
  { label: 'All', value: ALL },
  { label: 'Open', value: StateOpen },
  { label: 'Resolved', value: StateResolved },
];

interface Props {
  /** Every incident of the stream (the options come from them). */
  rows: IncidentRow[];
  filters: IncidentFilters;
  onChange: (f: IncidentFilters) => void;
}

/**
 * The combobox's stand-in for the empty value (an incident without a
 * severity or namespace): the URL keeps "", the combobox needs a non-empty one.
 */
const NONE = '__meshwatch_none__';
const toOption = (o: SelectableValue<string>): ComboboxOption<string> => ({
  label: o.label ?? o.value ?? '',
  value: o.value ? o.value : NONE,
});
const toUI = (v: string) => (v === '' ? NONE : v);
const fromUI = (selected: Array<ComboboxOption<string>>) => selected.map((o) => (o.value === NONE ? '' : o.value));

/** Filters by state, severity, namespace and pending sign-off; the options are the values the incidents hold. */
export function IncidentFiltersBar({ rows, filters, onChange }: Props) {
  const s = useStyles2(getStyles);
  const id = useId();
  return (
    <div className={s.bar} data-testid={testIds.incidents.filters} role="group" aria-label="Filter incidents">
      <Field label="State" className={s.field}>
        <RadioButtonGroup
          aria-label="State"
          options={STATE_OPTIONS}
          value={filters.state ?? ALL}
          onChange={(v) => onChange({ ...filters, state: v === StateOpen || v === StateResolved ? v : undefined })}
        />
      </Field>
      <Field label="Severity" htmlFor={`${id}-severity`} className={s.field}>
        <MultiCombobox
          id={`${id}-severity`}
          placeholder="Every severity"
          width={28}
          options={severityOptions(rows, filters.severity).map(toOption)}
          value={filters.severity.map(toUI)}
          onChange={(v) => onChange({ ...filters, severity: fromUI(v) })}
        />
      </Field>
      <Field label="Namespace" htmlFor={`${id}-namespace`} className={s.field}>
        <MultiCombobox
          id={`${id}-namespace`}
          placeholder="Every namespace"
          width={36}
          options={namespaceOptions(rows, filters.namespace).map(toOption)}
          value={filters.namespace.map(toUI)}
          onChange={(v) => onChange({ ...filters, namespace: fromUI(v) })}
        />
      </Field>
      <Field label="Sign-off" className={s.field}>
        <InlineSwitch
          label="Awaiting sign-off"
          showLabel
          value={!!filters.awaiting}
          onChange={(e) => onChange({ ...filters, awaiting: e.currentTarget.checked || undefined })}
          data-testid={testIds.incidents.awaitingSignOff}
        />
      </Field>
      {isFiltered(filters) ? (
        <Button
          variant="secondary"
          fill="text"
          icon="times"
          className={s.clear}
          onClick={() => onChange({ severity: [], namespace: [] })}
        >
          Clear filters
        </Button>
      ) : null}
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  bar: css({ display: 'flex', flexWrap: 'wrap', alignItems: 'flex-end', gap: theme.spacing(2) }),
  field: css({ marginBottom: theme.spacing(1) }),
  clear: css({ marginBottom: theme.spacing(1) }),
});
