import React, { useState } from 'react';
import { Field, FieldSet, RadioButtonGroup, TextArea } from '@grafana/ui';
import { SecretBox } from './SecretBox';
import { TextField } from './TextField';
import { FieldError, KubernetesMode, KubernetesSettings } from '../../api/types';
import { SecretState } from './secrets';
import { errorLookup } from './fieldErrors';

interface Props {
  value: KubernetesSettings;
  token: SecretState;
  errors: FieldError[];
  disabled: boolean;
  onChange: (value: KubernetesSettings) => void;
  onTokenChange: (value: string) => void;
  onTokenReset: () => void;
}

const modes: Array<{ label: string; value: KubernetesMode; description: string }> = [
  { label: 'In-cluster', value: 'in-cluster', description: "Grafana's pod ServiceAccount" },
  { label: 'API URL + token', value: 'url', description: 'An explicit API server and ServiceAccount token' },
  { label: 'Disabled', value: 'disabled', description: 'No canary state or sign-off gates' },
];

/** How MeshWatch reaches the Kubernetes API (Flagger canaries, events). */
export function KubernetesFields({ value, token, errors, disabled, onChange, onTokenChange, onTokenReset }: Props) {
  const err = errorLookup(errors);
  const mode = value.mode ?? 'in-cluster';
  const set = (patch: Partial<KubernetesSettings>) => onChange({ ...value, ...patch });
  // The namespaces box keeps what is typed (commas and spaces included) and saves the parsed list.
  const [namespacesText, setNamespacesText] = useState((value.namespaces ?? []).join(', '));
  return (
    <FieldSet label="Kubernetes">
      <Field
        label="Access"
        description="In-cluster needs Grafana's [plugins] forward_host_env_vars = meshwatch-mesh-app on Grafana 12.4 and later."
        invalid={Boolean(err('kubernetes.mode'))}
        error={err('kubernetes.mode')}
      >
        <RadioButtonGroup options={modes} value={mode} disabled={disabled} onChange={(m) => set({ mode: m })} />
      </Field>
      {mode === 'url' && (
        <>
          <TextField
            id="kube-url"
            label="API server URL"
            error={err('kubernetes.url')}
            value={value.url}
            placeholder="https://10.0.0.10:6443"
            disabled={disabled}
            onChange={(v) => set({ url: v.trim() })}
          />
          <Field
            label="ServiceAccount token"
            invalid={Boolean(err('kubernetes token'))}
            error={err('kubernetes token')}
            htmlFor="kube-token"
          >
            <SecretBox
              id="kube-token"
              width={60}
              value={token.value}
              isConfigured={token.configured}
              disabled={disabled}
              onChange={(e) => onTokenChange(e.currentTarget.value)}
              onReset={onTokenReset}
            />
          </Field>
          <Field
            label="CA certificate (PEM)"
            invalid={Boolean(err('kubernetes.caCert'))}
            error={err('kubernetes.caCert')}
            htmlFor="kube-ca"
          >
            <TextArea
              id="kube-ca"
              rows={3}
              value={value.caCert ?? ''}
              placeholder="-----BEGIN CERTIFICATE-----"
              disabled={disabled}
              onChange={(e) => set({ caCert: e.currentTarget.value })}
            />
          </Field>
        </>
      )}
      {mode !== 'disabled' && (
        <TextField
          id="kube-namespaces"
          label="Namespaces"
          description="Comma-separated; empty watches every namespace the ServiceAccount may list."
          error={errors.find((e) => e.field.startsWith('kubernetes.namespaces'))?.message}
          value={namespacesText}
          placeholder="all"
          disabled={disabled}
          onChange={(v) => {
            setNamespacesText(v);
            set({ namespaces: parseList(v) });
          }}
        />
      )}
    </FieldSet>
  );
}

/** Splits a comma-separated list, dropping blanks. */
export function parseList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
