import React from 'react';
import { Field, RadioButtonGroup } from '@grafana/ui';
import { SecretBox } from './SecretBox';
import { TextField } from './TextField';
import { AppSettings, EffectiveSettings, FieldError } from '../../api/types';
import { SecretState } from './secrets';
import { errorLookup } from './fieldErrors';

type StorageSettings = NonNullable<AppSettings['storage']>;
type Kind = NonNullable<StorageSettings['kind']>;

interface Props {
  value: StorageSettings;
  defaults?: EffectiveSettings['storage'];
  dsn: SecretState;
  errors: FieldError[];
  disabled: boolean;
  onChange: (value: StorageSettings) => void;
  onDsnChange: (value: string) => void;
  onDsnReset: () => void;
}

const kinds: Array<{ label: string; value: Kind; description: string }> = [
  { label: 'SQLite file', value: 'sqlite', description: 'Embedded, one file per Grafana (a single replica)' },
  {
    label: 'PostgreSQL',
    value: 'postgres',
    description: 'Shared by every Grafana replica: one incident list, one audit trail, one active worker',
  },
];

/** Where incidents, evidence and the sign-off audit trail are kept. */
export function StorageFields({ value, defaults, dsn, errors, disabled, onChange, onDsnChange, onDsnReset }: Props) {
  const err = errorLookup(errors);
  const kind: Kind = value.kind ?? 'sqlite';
  return (
    <>
      <Field label="Database" invalid={Boolean(err('storage.kind'))} error={err('storage.kind')}>
        <RadioButtonGroup
          options={kinds}
          value={kind}
          disabled={disabled}
          onChange={(k) => onChange({ ...value, kind: k })}
        />
      </Field>
      {kind === 'sqlite' ? (
        <TextField
          id="storage-path"
          label="Database file"
          description="SQLite file under Grafana's data directory; its folder is created if missing."
          error={err('storage.path')}
          value={value.path}
          placeholder={defaults?.path}
          disabled={disabled}
          onChange={(v) => onChange({ ...value, path: v.trim() })}
        />
      ) : (
        <Field
          label="PostgreSQL DSN"
          description="postgres://user:password@host:5432/database — kept encrypted by Grafana, never shown again. MeshWatch creates its tables on first use."
          invalid={Boolean(err('storage dsn'))}
          error={err('storage dsn')}
          htmlFor="storage-dsn"
        >
          <SecretBox
            id="storage-dsn"
            width={60}
            value={dsn.value}
            isConfigured={dsn.configured}
            placeholder="postgres://meshwatch:…@postgres:5432/meshwatch"
            disabled={disabled}
            onChange={(e) => onDsnChange(e.currentTarget.value)}
            onReset={onDsnReset}
          />
        </Field>
      )}
    </>
  );
}
