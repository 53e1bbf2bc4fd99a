import React, { useEffect, useState } from 'react';
import { css } from '@emotion/css';
import { AppPluginMeta, GrafanaTheme2, PluginConfigPageProps } from '@grafana/data';
import { config, locationService } from '@grafana/runtime';
import { Alert, Button, Field, FieldSet, Stack, useStyles2 } from '@grafana/ui';
import { SecretBox } from './SecretBox';
import { api, errorMessage } from '../../api/client';
import { AppSettings, EffectiveSettings, EndpointSettings, FieldError, HealthReport, SecureKey } from '../../api/types';
import { testIds } from '../testIds';
import { HealthReport as HealthReportView } from '../HealthReport/HealthReport';
import { EndpointFields } from './EndpointFields';
import { NumberField } from './TextField';
import { KubernetesFields } from './KubernetesFields';
import { OllamaFields } from './OllamaFields';
import { StorageFields } from './StorageFields';
import { errorLookup } from './fieldErrors';
import { initialSecrets, secureFieldsAfterSave, secureJsonDataToSend, Secrets } from './secrets';

export interface AppConfigProps extends PluginConfigPageProps<AppPluginMeta<AppSettings>> {}

type TelemetryKey = 'prometheus' | 'loki' | 'tempo' | 'alertmanager';

const telemetry: Array<{ key: TelemetryKey; secret: SecureKey; label: string; description: string }> = [
  {
    key: 'prometheus',
    secret: 'prometheusAuth',
    label: 'Prometheus (required)',
    description: 'The mesh metrics and the alerts Prometheus evaluates.',
  },
  { key: 'loki', secret: 'lokiAuth', label: 'Loki', description: 'Error log patterns for the evidence pack.' },
  { key: 'tempo', secret: 'tempoAuth', label: 'Tempo', description: 'Slow and failing traces for the evidence pack.' },
  {
    key: 'alertmanager',
    secret: 'alertmanagerAuth',
    label: 'Alertmanager',
    description: 'Alert state and silences.',
  },
];

/** The app's configuration page: every setting, secrets as secureJsonData, and a Test button. */
const AppConfig = ({ plugin }: AppConfigProps) => {
  const s = useStyles2(getStyles);
  const { enabled, pinned, jsonData, secureJsonFields } = plugin.meta;
  const isAdmin = config.bootData?.user?.orgRole === 'Admin';
  const [settings, setSettings] = useState<AppSettings>(jsonData ?? {});
  const [secrets, setSecrets] = useState<Secrets>(() => initialSecrets(secureJsonFields as Record<SecureKey, boolean>));
  const [reset, setReset] = useState<Set<SecureKey>>(new Set());
  const [defaults, setDefaults] = useState<EffectiveSettings>();
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<string>();
  const [testing, setTesting] = useState(false);
  const [report, setReport] = useState<HealthReport>();
  const [testError, setTestError] = useState<string>();

  useEffect(() => {
    // The effective settings are for org admins only (the backend refuses the rest).
    if (isAdmin) {
      api.settings().then(setDefaults, () => setDefaults(undefined));
    }
  }, [isAdmin]);

  const err = errorLookup(errors);
  const disabled = !isAdmin || saving;
  const secretProps = (key: SecureKey) => ({
    secret: secrets[key],
    onSecretChange: (value: string) => setSecrets({ ...secrets, [key]: { ...secrets[key], value } }),
    onSecretReset: () => {
      setSecrets({ ...secrets, [key]: { configured: false, value: '' } });
      setReset(new Set(reset).add(key));
    },
  });

  const onSave = async (event: React.FormEvent) => {
    event.preventDefault();
    setSaving(true);
    setSaveError(undefined);
    try {
      const check = await api.validate(settings, secureFieldsAfterSave(secrets));
      setErrors(check.errors);
      if (!check.valid) {
        return;
      }
      await api.saveSettings({
        enabled,
        pinned,
        jsonData: settings,
        secureJsonData: secureJsonDataToSend(secrets, reset),
      });
      // Grafana rebuilds the backend instance with the new settings; reload to show them.
      locationService.reload();
    } catch (e) {
      setSaveError(errorMessage(e));
    } finally {
      setSaving(false);
    }
  };

  const onTest = async () => {
    setTesting(true);
    setTestError(undefined);
    try {
      setReport(await api.health());
    } catch (e) {
      setTestError(errorMessage(e));
    } finally {
      setTesting(false);
    }
  };

  return (
    <form onSubmit={onSave} className={s.form} data-testid={testIds.appConfig.form}>
      {!isAdmin && (
        <Alert title="Read-only" severity="info" data-testid={testIds.appConfig.readOnly}>
          Only an organization Admin can change MeshWatch&apos;s settings.
        </Alert>
      )}
      <p className={s.intro}>
        Pick the datasources Grafana already has: MeshWatch queries them through Grafana&apos;s datasource proxy, with
        their own auth, TLS and headers. A direct URL stays as the advanced option for each.
      </p>
      {telemetry.map((t) => (
        <EndpointFields
          key={t.key}
          name={t.key}
          datasourceType={t.key}
          label={t.label}
          description={t.description}
          value={settings[t.key] ?? {}}
          defaults={defaults?.[t.key]}
          errors={errors}
          disabled={disabled}
          onChange={(v: EndpointSettings) => setSettings({ ...settings, [t.key]: v })}
          {...secretProps(t.secret)}
        />
      ))}
      <FieldSet label="Grafana datasource access">
        <Field
          label="Grafana service-account token"
          description="Used only when Grafana does not give MeshWatch a managed service account (plugin.json iam; Grafana needs the externalServiceAccounts feature toggle and [auth] managed_service_accounts_enabled). A service account with the Viewer role (datasources:query) is enough. Test says which one is used."
          invalid={Boolean(err('grafanaToken'))}
          error={err('grafanaToken')}
          htmlFor="grafana-token"
          data-testid={testIds.appConfig.grafanaToken}
        >
          <SecretBox
            id="grafana-token"
            width={60}
            value={secrets.grafanaToken.value}
            isConfigured={secrets.grafanaToken.configured}
            placeholder="Optional: glsa_…"
            disabled={disabled}
            onChange={(e) => secretProps('grafanaToken').onSecretChange(e.currentTarget.value)}
            onReset={secretProps('grafanaToken').onSecretReset}
          />
        </Field>
      </FieldSet>
      <EndpointFields
        name="ollama"
        label="Ollama (root-cause write-ups)"
        description="Usually a GPU host on your tailnet, e.g. http://100.101.102.103:11434."
        value={settings.ollama ?? {}}
        defaults={defaults?.ollama}
        errors={errors}
        disabled={disabled}
        onChange={(v) => setSettings({ ...settings, ollama: { ...settings.ollama, ...v } })}
        {...secretProps('ollamaAuth')}
      >
        <OllamaFields
          value={settings.ollama ?? {}}
          defaults={defaults?.ollama}
          errors={errors}
          disabled={disabled}
          onChange={(v) => setSettings({ ...settings, ollama: v })}
        />
      </EndpointFields>
      <KubernetesFields
        value={settings.kubernetes ?? {}}
        token={secrets.kubernetesToken}
        errors={errors}
        disabled={disabled}
        onChange={(v) => setSettings({ ...settings, kubernetes: v })}
        onTokenChange={secretProps('kubernetesToken').onSecretChange}
        onTokenReset={secretProps('kubernetesToken').onSecretReset}
      />
      <FieldSet label="Incidents and storage">
        <StorageFields
          value={settings.storage ?? {}}
          defaults={defaults?.storage}
          dsn={secrets.storageDSN}
          errors={errors}
          disabled={disabled}
          onChange={(v) => setSettings({ ...settings, storage: v })}
          onDsnChange={secretProps('storageDSN').onSecretChange}
          onDsnReset={secretProps('storageDSN').onSecretReset}
        />
        <Stack direction="row" gap={2}>
          <NumberField
            id="evidence-window"
            label="Evidence window (minutes)"
            error={err('evidenceWindowMinutes')}
            value={settings.evidenceWindowMinutes}
            placeholder={defaults?.evidenceWindowMinutes}
            disabled={disabled}
            onChange={(v) => setSettings({ ...settings, evidenceWindowMinutes: v })}
          />
          <NumberField
            id="retention-days"
            label="Keep resolved incidents (days)"
            error={err('storage.retentionDays')}
            value={settings.storage?.retentionDays}
            placeholder={defaults?.storage.retentionDays}
            disabled={disabled}
            onChange={(v) => setSettings({ ...settings, storage: { ...settings.storage, retentionDays: v } })}
          />
          <NumberField
            id="reconcile-seconds"
            label="Reconcile with Alertmanager every (s)"
            error={err('incidents.reconcileSeconds')}
            value={settings.incidents?.reconcileSeconds}
            placeholder={defaults?.incidents.reconcileSeconds}
            disabled={disabled}
            onChange={(v) => setSettings({ ...settings, incidents: { ...settings.incidents, reconcileSeconds: v } })}
          />
        </Stack>
      </FieldSet>

      {errors.length > 0 && (
        <Alert title="Fix these settings before saving" severity="error" data-testid={testIds.appConfig.errors}>
          <ul>
            {errors.map((e) => (
              <li key={e.field}>{`${e.field}: ${e.message}`}</li>
            ))}
          </ul>
        </Alert>
      )}
      {saveError && <Alert title={`Saving failed: ${saveError}`} severity="error" />}
      {testError && <Alert title={`Test failed: ${testError}`} severity="error" />}
      {report && <HealthReportView report={report} />}

      <Stack direction="row" gap={1}>
        {isAdmin && (
          <Button type="submit" disabled={saving} data-testid={testIds.appConfig.save}>
            {saving ? 'Saving…' : 'Save settings'}
          </Button>
        )}
        <Button
          type="button"
          variant="secondary"
          onClick={onTest}
          disabled={testing}
          icon={testing ? 'spinner' : 'heart-rate'}
          data-testid={testIds.appConfig.test}
        >
          {testing ? 'Testing…' : 'Test'}
        </Button>
      </Stack>
    </form>
  );
};

export default AppConfig;

const getStyles = (theme: GrafanaTheme2) => ({
  form: css({ maxWidth: theme.breakpoints.values.lg, display: 'flex', flexDirection: 'column', gap: theme.spacing(2) }),
  intro: css({ margin: 0 }),
});
