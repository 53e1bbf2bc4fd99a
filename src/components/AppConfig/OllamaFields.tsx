import React from 'react';
import { Field, Stack, Switch } from '@grafana/ui';
import { FieldError, LLMSettings } from '../../api/types';
import { NumberField, TextField } from './TextField';
import { errorLookup } from './fieldErrors';

interface Props {
  value: LLMSettings;
  defaults?: LLMSettings;
  errors: FieldError[];
  disabled: boolean;
  onChange: (value: LLMSettings) => void;
}

/** The on/off switch, model, context budget and egress switch of the local LLM. */
export function OllamaFields({ value, defaults, errors, disabled, onChange }: Props) {
  const err = errorLookup(errors);
  const set = (patch: Partial<LLMSettings>) => onChange({ ...value, ...patch });
  return (
    <>
      <Field
        label="Write-ups and panel explanations from this LLM"
        description="Off: no LLM is configured. MeshWatch asks no model; incidents show its deterministic findings and “Explain this panel” its series summary, and both pages say that no LLM is configured."
        htmlFor="ollama-enabled"
      >
        <Switch
          id="ollama-enabled"
          value={!value.disabled}
          disabled={disabled}
          onChange={(e) => set({ disabled: e.currentTarget.checked ? undefined : true })}
        />
      </Field>
      <Stack direction="row" gap={2}>
        <TextField
          id="ollama-model"
          label="Model"
          error={err('ollama.model')}
          value={value.model}
          placeholder={defaults?.model}
          width={24}
          disabled={disabled}
          onChange={(v) => set({ model: v.trim() })}
        />
        <NumberField
          id="ollama-numctx"
          label="Context (num_ctx)"
          error={err('ollama.numCtx')}
          value={value.numCtx}
          placeholder={defaults?.numCtx}
          disabled={disabled}
          onChange={(v) => set({ numCtx: v })}
        />
        <NumberField
          id="ollama-numpredict"
          label="Max tokens (num_predict)"
          error={err('ollama.numPredict')}
          value={value.numPredict}
          placeholder={defaults?.numPredict}
          disabled={disabled}
          onChange={(v) => set({ numPredict: v })}
        />
      </Stack>
      <Field
        label="Allow an external LLM address"
        description="Off: MeshWatch only sends evidence to loopback, private (RFC 1918), tailnet (100.64.0.0/10) or cluster-local addresses. Turn on only if you accept that incident evidence leaves your network."
        htmlFor="ollama-allow-external"
      >
        <Switch
          id="ollama-allow-external"
          value={Boolean(value.allowExternal)}
          disabled={disabled}
          onChange={(e) => set({ allowExternal: e.currentTarget.checked })}
        />
      </Field>
    </>
  );
}
