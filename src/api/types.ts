/**
 * The frontend's names for the wire types. The types themselves are generated
 * from the Go that declares them (src/api/wire/, `mage generate`, see
 * .config/tygo.yaml) and never written here by hand; this file only adds what
 * the frontend alone has: the jsonData the config page edits, where every
 * field may be left out.
 */
import type { Endpoint, Kube, Kubernetes, LLM, Secure, Settings } from './wire/settings';
import type { Report, Result, Status } from './wire/health';
import type { SettingsView } from './wire/configapi';

export type { FieldError } from './wire/settings';
export type { ValidateRequest, ValidateResponse } from './wire/configapi';
export type { ErrorBody } from './wire/httpjson';
export type { Alert, Incident, Key as IncidentKey, Record as AlertRecord } from './wire/incident';
export type { DetailResponse as IncidentDetail, ListResponse as IncidentList } from './wire/incidents';

/** How MeshWatch reaches one HTTP service, as jsonData holds it (pkg/settings.Endpoint). */
export type EndpointSettings = Partial<Endpoint>;

/** The Ollama model settings, as jsonData holds them (pkg/settings.LLM). */
export type LLMSettings = Partial<LLM>;

/** How MeshWatch reaches the Kubernetes API (pkg/settings.Kube*). */
export type KubernetesMode = Kube;

export type KubernetesSettings = Partial<Kubernetes>;

/** The app's jsonData (pkg/settings.Settings). Empty fields mean "use the default". */
export type AppSettings = { [K in keyof Settings]?: Partial<Settings[K]> };

/** secureJsonData keys (pkg/settings.Secure*). */
export type SecureKey = Secure;

/** GET /settings: the effective settings with defaults applied. */
export type EffectiveSettings = SettingsView;

export type HealthStatus = Status;
export type HealthResult = Result;
export type HealthReport = Report;
