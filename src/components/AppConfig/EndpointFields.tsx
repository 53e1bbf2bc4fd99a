import React, { useState } from 'react';
import { css } from '@emotion/css';
import { GrafanaTheme2 } from '@grafana/data';
import { DataSourcePicker } from '@grafana/runtime';
import { Alert, Button, Field, FieldSet, RadioButtonGroup, Stack, useStyles2 } from '@grafana/ui';
import { SecretBox } from './SecretBox';
import { NumberField, TextField } from './TextField';
import { EndpointSettings, FieldError } from '../../api/types';
import { SecretState } from './secrets';
import { testIds } from '../testIds';

/** How one telemetry service is reached: a Grafana datasource (the default way) or its own URL. */
export type ConnectMode = 'datasource' | 'direct';

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
  /**
   * The Grafana datasource plugin id (prometheus, loki, tempo, alertmanager) when the service can be
   * a Grafana datasource; without it (Ollama) the service is reached at its URL only.
   */
  datasourceType?: string;
  children?: React.ReactNode;
}

/**
 * The mode a saved endpoint starts in: its datasource; else the direct URL when anything of it is set
 * (URL, tenant, secret), as that is what is used; else the picker (the default way).
 */
export function initialMode(value: EndpointSettings, secretConfigured: boolean): ConnectMode {
  if (value.datasourceUid) {
    return 'datasource';
  }
  return value.url || value.tenantId || secretConfigured ? 'direct' : 'datasource';
}

/**
 * One upstream service. With a datasource type: "Grafana datasource" (a DataSourcePicker of that type,
 * writing datasourceUid) or "Direct URL" (URL, authorization, tenant). The timeout applies either way.
 */
export function EndpointFields(props: Props) {
  const { name, value, defaults, errors, disabled, onChange, datasourceType } = props;
  const s = useStyles2(getStyles);
  const [mode, setMode] = useState<ConnectMode>(() =>
    datasourceType ? initialMode(value, props.secret.configured) : 'direct'
  );
  const errorFor = (field: string) => errors.find((e) => e.field === `${name}.${field}`)?.message;
  const id = (field: string) => `${name}-${field}`;
  const set = (patch: Partial<EndpointSettings>) => onChange({ ...value, ...patch });

  const onMode = (next: ConnectMode) => {
    setMode(next);
    if (next === 'direct' && value.datasourceUid !== undefined) {
      // The direct URL is used only without a datasource.
      const { datasourceUid: _dropped, ...rest } = value;
      onChange(rest);
    }
  };

  const timeout = (
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
  );

  if (!datasourceType) {
    return (
      <FieldSet label={props.label}>
        <DirectFields {...props} set={set} errorFor={errorFor} id={id} urlDescription={props.description}>
          {timeout}
        </DirectFields>
        {props.children}
      </FieldSet>
    );
  }

  const unused = [
    value.tenantId ? `the tenant ID “${value.tenantId}”` : '',
    props.secret.configured || props.secret.value ? 'the Authorization secret' : '',
  ].filter(Boolean);
  const fallbackURL = value.url || defaults?.url;

  return (
    <FieldSet label={props.label}>
      <p className={s.description}>{props.description}</p>
      <Field label="Connect through">
        <RadioButtonGroup<ConnectMode>
          aria-label={`${props.label}: connect through`}
          options={[
            { label: 'Grafana datasource', value: 'datasource' },
            { label: 'Direct URL', value: 'direct' },
          ]}
          value={mode}
          disabled={disabled}
          onChange={onMode}
        />
      </Field>
      {mode === 'datasource' ? (
        <>
          <Stack direction="row" gap={2} alignItems="flex-end">
            <Field
              label="Datasource"
              description={
                value.datasourceUid
                  ? "Grafana adds the datasource's own URL, auth, TLS and headers; the direct URL, tenant and Authorization are not used."
                  : `None picked: MeshWatch uses the direct URL${fallbackURL ? ` ${fallbackURL}` : ''} until you pick one.`
              }
              invalid={Boolean(errorFor('datasourceUid'))}
              error={errorFor('datasourceUid')}
              htmlFor={id('datasource')}
              data-testid={testIds.appConfig.datasource(name)}
            >
              <DataSourcePicker
                inputId={id('datasource')}
                pluginId={datasourceType}
                current={value.datasourceUid ?? null}
                noDefault
                width={60}
                placeholder={`Pick a ${typeLabel(datasourceType)} datasource`}
                disabled={disabled}
                onChange={(ds) => set({ datasourceUid: ds.uid })}
              />
            </Field>
            {timeout}
          </Stack>
          {value.datasourceUid && unused.length > 0 && (
            <Alert
              severity="info"
              title="Set for the direct URL, not used with a datasource"
              data-testid={testIds.appConfig.unusedNote(name)}
            >
              <p>
                {capitalize(unused.join(' and '))} {unused.length > 1 ? 'are' : 'is'} not sent: Grafana adds the
                datasource&apos;s own auth and headers (set a tenant on the datasource in Grafana if it needs one).
              </p>
              <Button
                type="button"
                size="sm"
                variant="secondary"
                disabled={disabled}
                onClick={() => {
                  if (value.tenantId) {
                    set({ tenantId: undefined });
                  }
                  if (props.secret.configured || props.secret.value) {
                    props.onSecretReset();
                  }
                }}
              >
                Clear {unused.length > 1 ? 'them' : 'it'}
              </Button>
            </Alert>
          )}
        </>
      ) : (
        <DirectFields {...props} set={set} errorFor={errorFor} id={id} urlDescription="The service itself.">
          {timeout}
        </DirectFields>
      )}
      {props.children}
    </FieldSet>
  );
}

interface DirectProps extends Props {
  set: (patch: Partial<EndpointSettings>) => void;
  errorFor: (field: string) => string | undefined;
  id: (field: string) => string;
  urlDescription: string;
}

/** The direct URL, its Authorization secret and the tenant header. */
function DirectFields({
  name,
  value,
  defaults,
  errors,
  disabled,
  set,
  errorFor,
  id,
  urlDescription,
  children,
  ...p
}: DirectProps) {
  const secretError = errors.find((e) => e.field === `${name} secret`)?.message;
  return (
    <>
      <TextField
        id={id('url')}
        label="URL"
        description={urlDescription}
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
        <SecretBox
          id={id('auth')}
          width={60}
          value={p.secret.value}
          isConfigured={p.secret.configured}
          placeholder="Optional"
          disabled={disabled}
          onChange={(e) => p.onSecretChange(e.currentTarget.value)}
          onReset={p.onSecretReset}
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
        {children}
      </Stack>
    </>
  );
}

function typeLabel(pluginId: string): string {
  return pluginId === 'alertmanager' ? 'Alertmanager' : capitalize(pluginId);
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

const getStyles = (theme: GrafanaTheme2) => ({
  description: css({ color: theme.colors.text.secondary, margin: theme.spacing(0, 0, 1.5) }),
});
