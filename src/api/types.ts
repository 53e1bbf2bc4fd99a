/** How MeshWatch reaches one HTTP service (mirrors pkg/settings.Endpoint). */
export interface EndpointSettings {
  url?: string;
  tenantId?: string;
  tenantHeader?: string;
  timeoutSeconds?: number;
}

/** The Ollama model settings (mirrors pkg/settings.LLM). */
export interface LLMSettings extends EndpointSettings {
  model?: string;
  numCtx?: number;
  numPredict?: number;
  allowExternal?: boolean;
}

export type KubernetesMode = 'in-cluster' | 'url' | 'disabled';

export interface KubernetesSettings {
  mode?: KubernetesMode;
  url?: string;
  caCert?: string;
  namespaces?: string[];
}

/** The app's jsonData. Empty fields mean "use the default". */
export interface AppSettings {
  prometheus?: EndpointSettings;
  loki?: EndpointSettings;
  tempo?: EndpointSettings;
  alertmanager?: EndpointSettings;
  ollama?: LLMSettings;
  kubernetes?: KubernetesSettings;
  storage?: { path?: string };
  evidenceWindowMinutes?: number;
}

/** secureJsonData keys (pkg/settings.Secure*). */
export type SecureKey =
  'prometheusAuth' | 'lokiAuth' | 'tempoAuth' | 'alertmanagerAuth' | 'ollamaAuth' | 'kubernetesToken' | 'webhookToken';

export interface FieldError {
  field: string;
  message: string;
}

/** GET /settings: the effective settings with defaults applied. */
export interface EffectiveSettings extends Required<Omit<AppSettings, 'ollama' | 'kubernetes'>> {
  ollama: LLMSettings;
  kubernetes: KubernetesSettings;
  secureConfigured: Record<SecureKey, boolean>;
  errors: FieldError[];
}

export interface ValidateResponse {
  valid: boolean;
  errors: FieldError[];
}

export type HealthStatus = 'ok' | 'warning' | 'error' | 'disabled';

export interface HealthResult {
  name: string;
  target: string;
  required: boolean;
  status: HealthStatus;
  version?: string;
  /** False for lines reported without calling the dependency (bad settings, disabled). */
  probed: boolean;
  latencyMs: number;
  message: string;
}

export interface HealthReport {
  status: HealthStatus;
  summary: string;
  results: HealthResult[];
}
