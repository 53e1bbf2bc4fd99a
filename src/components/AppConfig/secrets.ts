import { SecureKey } from '../../api/types';

/** A secret as the config page holds it: configured on the server, or a new value typed here. */
export interface SecretState {
  configured: boolean;
  value: string;
}

export type Secrets = Record<SecureKey, SecretState>;

// Every secureJsonData key, in page order. A Record, so that a key added in Go (and to the generated
// SecureKey union) fails the typecheck until the page knows it.
const SECURE: Record<SecureKey, true> = {
  prometheusAuth: true,
  lokiAuth: true,
  tempoAuth: true,
  alertmanagerAuth: true,
  grafanaToken: true,
  ollamaAuth: true,
  kubernetesToken: true,
  storageDSN: true,
};

export const SECURE_KEYS = Object.keys(SECURE) as SecureKey[];

export function initialSecrets(configured: Partial<Record<SecureKey, boolean>> | undefined): Secrets {
  return Object.fromEntries(
    SECURE_KEYS.map((k) => [k, { configured: Boolean(configured?.[k]), value: '' }])
  ) as Secrets;
}

/**
 * What to send as secureJsonData: only the secrets typed in or reset here.
 * A reset secret is sent as "" (which clears it); untouched secrets are left out, so Grafana keeps them.
 */
export function secureJsonDataToSend(secrets: Secrets, reset: Set<SecureKey>): Partial<Record<SecureKey, string>> {
  const out: Partial<Record<SecureKey, string>> = {};
  for (const k of SECURE_KEYS) {
    if (secrets[k].value !== '') {
      out[k] = secrets[k].value;
    } else if (reset.has(k)) {
      out[k] = '';
    }
  }
  return out;
}

/** Which secrets will be set after saving (for server-side validation). */
export function secureFieldsAfterSave(secrets: Secrets): Partial<Record<SecureKey, boolean>> {
  return Object.fromEntries(SECURE_KEYS.map((k) => [k, secrets[k].configured || secrets[k].value !== ''])) as Partial<
    Record<SecureKey, boolean>
  >;
}
