import React from 'react';
import { Field, Input } from '@grafana/ui';

interface Props {
  id: string;
  label: string;
  description?: string;
  /** The field's validation message, if any. */
  error?: string;
  value: string | number | undefined;
  placeholder?: string | number;
  disabled: boolean;
  width?: number;
  onChange: (value: string) => void;
}

/** A labelled text input with its validation message. */
export function TextField({
  id,
  label,
  description,
  error,
  value,
  placeholder,
  disabled,
  width = 60,
  onChange,
}: Props) {
  return (
    <Field label={label} description={description} invalid={Boolean(error)} error={error} htmlFor={id}>
      <Input
        id={id}
        width={width}
        value={value ?? ''}
        placeholder={placeholder === undefined ? undefined : String(placeholder)}
        disabled={disabled}
        onChange={(e) => onChange(e.currentTarget.value)}
      />
    </Field>
  );
}

/** A labelled number input; an empty box means "use the default" (undefined). */
export function NumberField(props: Omit<Props, 'onChange'> & { onChange: (value: number | undefined) => void }) {
  return <TextField {...props} width={props.width ?? 16} onChange={(raw) => props.onChange(numberOrUndefined(raw))} />;
}

/** Parses a number input; an empty box means "use the default". */
export function numberOrUndefined(raw: string): number | undefined {
  if (raw.trim() === '') {
    return undefined;
  }
  const n = Number(raw);
  return Number.isFinite(n) ? n : undefined;
}
