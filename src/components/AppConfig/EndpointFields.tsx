import React from 'react';
import { Field, FieldSet, SecretInput, Stack } from '@grafana/ui';
import { NumberField, TextField } from './TextField';
import { EndpointSettings, FieldError } from '../../api/types';
import { SecretState } from './secrets';

interface Props {
  /** jsonData key, e.g. "prometheus"; also the prefix of its field errors. */
  name: string;
  label: string;
  description: string;
  value: EndpointSettings;
  defaults?: EndpointSettings;
  secret: SecretState;
  errors: FieldError[];
  disabled: boolean;
  onChange: (value: EndpointSettings) => void;
  onSecretChange: (value: string) => void;
  onSecretReset: () => void;
  children?: React.ReactNode;
}

/** The URL, tenant, timeout and authorization fields of one upstream service. */
export function EndpointFields(props: Props) {
  const { name, value, defaults, errors, disabled, onChange } = props;
  const errorFor = (field: string) => errors.find((e) => e.field === `${name}.${field}`)?.message;
  const id = (field: string) => `${name}-${field}`;
  const secretError = errors.find((e) => e.field === `${name} secret`)?.message;
  const set = (patch: Partial<EndpointSettings>) => onChange({ ...value, ...patch });

  return (
    <FieldSet label={props.label}>
      <TextField
        id={id('url')}
        label="URL"
        description={props.description}
        error={errorFor('url')}
        value={value.url}
        placeholder={defaults?.url}
        disabled={disabled}
        onChange={(v) => set({ url: v.trim() })}
      />
      <Field
        label="Authorization"
        description="A bearer token, or a full header value with its scheme (Basic …). Stored encrypted in secureJsonData."
        invalid={Boolean(secretError)}
        error={secretError}
        htmlFor={id('auth')}
      >
        <SecretInput
          id={id('auth')}
          width={60}
          value={props.secret.value}
          isConfigured={props.secret.configured}
          placeholder="Optional"
          disabled={disabled}
          onChange={(e) => props.onSecretChange(e.currentTarget.value)}
          onReset={props.onSecretReset}
        />
      </Field>
      <Stack direction="row" gap={2}>
        <TextField
          id={id('tenant')}
          label="Tenant ID"
          description="Sent in the tenant header (Mimir, multi-tenant Loki and Tempo)."
          error={errorFor('tenantId')}
          value={value.tenantId}
          placeholder="none"
          width={24}
          disabled={disabled}
          onChange={(v) => set({ tenantId: v.trim() })}
        />
        <TextField
          id={id('tenant-header')}
          label="Tenant header"
          error={errorFor('tenantHeader')}
          value={value.tenantHeader}
          placeholder={defaults?.tenantHeader}
          width={20}
          disabled={disabled}
          onChange={(v) => set({ tenantHeader: v.trim() })}
        />
        <NumberField
          id={id('timeout')}
          label="Timeout (s)"
          error={errorFor('timeoutSeconds')}
          value={value.timeoutSeconds}
          placeholder={defaults?.timeoutSeconds}
          width={12}
          disabled={disabled}
          onChange={(v) => set({ timeoutSeconds: v })}
        />
      </Stack>
      {props.children}
    </FieldSet>
  );
}
