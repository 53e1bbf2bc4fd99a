import React from 'react';
import { of, throwError } from 'rxjs';
import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { DataSourceInstanceSettings, DataSourcePluginMeta, PluginType } from '@grafana/data';
import { config, DataSourceSrv, getBackendSrv, locationService, setDataSourceSrv } from '@grafana/runtime';
import AppConfig, { AppConfigProps } from './AppConfig';
import { AppSettings, EffectiveSettings } from '../../api/types';
import { testIds } from '../testIds';

jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getBackendSrv: jest.fn(),
  locationService: { reload: jest.fn() },
  config: { bootData: { user: { orgRole: 'Admin' } } },
}));

// GET /settings as the backend answers it (the generated wire type).
const effective: EffectiveSettings = {
  prometheus: { url: 'http://prometheus.monitoring.svc:9090', tenantHeader: 'X-Scope-OrgID', timeoutSeconds: 10 },
  loki: { url: 'http://loki.monitoring.svc:3100', tenantHeader: 'X-Scope-OrgID', timeoutSeconds: 10 },
  tempo: { url: 'http://tempo.monitoring.svc:3200', tenantHeader: 'X-Scope-OrgID', timeoutSeconds: 10 },
  alertmanager: { url: 'http://alertmanager.monitoring.svc:9093', tenantHeader: 'X-Scope-OrgID', timeoutSeconds: 10 },
  ollama: { url: 'http://ollama.monitoring.svc:11434', model: 'phi3:mini', numCtx: 4096, numPredict: 768 },
  kubernetes: { mode: 'in-cluster' },
  storage: { kind: 'sqlite', path: '/var/lib/grafana/plugin-data/meshwatch-mesh-app/meshwatch.db', retentionDays: 90 },
  incidents: { reconcileSeconds: 60 },
  signOff: { role: 'Editor' },
  evidenceWindowMinutes: 5,
  secureConfigured: {},
  errors: [],
};

type Call = { url: string; method?: string; data?: any };

function backend(routes: Record<string, (c: Call) => unknown>) {
  const calls: Call[] = [];
  (getBackendSrv as jest.Mock).mockReturnValue({
    fetch: (c: Call) => {
      calls.push(c);
      const key = `${c.method ?? 'GET'} ${c.url}`;
      const handler = routes[key];
      if (!handler) {
        return throwError(() => ({ status: 404, data: { error: 'not found', detail: key } }));
      }
      try {
        return of({ data: handler(c), status: 200 });
      } catch (e) {
        return throwError(() => e);
      }
    },
  });
  return calls;
}

// The datasources Grafana has: what DataSourcePicker lists (getList filtered by pluginId) and resolves.
function datasource(uid: string, type: string, name: string): DataSourceInstanceSettings {
  const meta = {
    id: type,
    name: type,
    type: PluginType.datasource,
    module: '',
    baseUrl: '',
    info: { logos: { small: '', large: '' } },
  } as unknown as DataSourcePluginMeta;
  return {
    uid,
    type,
    name,
    meta,
    access: 'proxy',
    readOnly: false,
    jsonData: {},
  } as unknown as DataSourceInstanceSettings;
}
const datasources = [
  datasource('prom-main', 'prometheus', 'Prometheus main'),
  datasource('mimir', 'prometheus', 'Mimir'),
  datasource('logs', 'loki', 'Loki logs'),
  datasource('traces', 'tempo', 'Tempo traces'),
  datasource('am', 'alertmanager', 'Alertmanager'),
];
// As Grafana does at boot; DataSourcePicker (the real one) reads it.
setDataSourceSrv({
  getList: (f: { pluginId?: string } = {}) => datasources.filter((d) => !f.pluginId || d.meta.id === f.pluginId),
  getInstanceSettings: (ref?: string | { uid?: string } | null) => {
    const uid = typeof ref === 'string' ? ref : ref?.uid;
    return datasources.find((d) => d.uid === uid || d.name === uid);
  },
} as unknown as DataSourceSrv);

/** Opens a picker (react-select) and picks the option with that name. */
async function pick(name: string, option: string) {
  const input = within(screen.getByTestId(testIds.appConfig.datasource(name))).getByRole('combobox');
  fireEvent.keyDown(input, { key: 'ArrowDown' });
  fireEvent.click(await screen.findByRole('option', { name: option }));
}

const props = (
  secureJsonFields: Record<string, boolean> = {},
  jsonData: AppSettings = { prometheus: { url: 'http://prom:9090' } }
) =>
  ({
    plugin: {
      meta: {
        id: 'meshwatch-mesh-app',
        name: 'MeshWatch',
        type: PluginType.app,
        enabled: true,
        pinned: true,
        jsonData,
        secureJsonFields,
      },
    },
    query: {},
  }) as unknown as AppConfigProps;

const R = '/api/plugins/meshwatch-mesh-app/resources';

describe('AppConfig', () => {
  beforeEach(() => {
    (config as any).bootData.user.orgRole = 'Admin';
    jest.clearAllMocks();
  });

  it('shows the effective defaults as placeholders and the saved values', async () => {
    backend({ [`GET ${R}/settings`]: () => effective });
    render(<AppConfig {...props()} />);
    // Prometheus has a URL saved: it starts on the direct URL, which shows the saved value.
    expect(await screen.findByDisplayValue('http://prom:9090')).toBeInTheDocument();
    // Loki has nothing saved: it starts on the picker, which says what is used until one is picked.
    expect(
      await within(screen.getByTestId(testIds.appConfig.datasource('loki'))).findByText(
        'None picked: MeshWatch uses the direct URL http://loki.monitoring.svc:3100 until you pick one.'
      )
    ).toBeInTheDocument();
    expect(screen.getByPlaceholderText('phi3:mini')).toBeInTheDocument();
    expect(screen.getByPlaceholderText('http://ollama.monitoring.svc:11434')).toBeInTheDocument();
    expect(screen.getByTestId(testIds.appConfig.save)).toBeEnabled();
  });

  it.each(['Viewer', 'Editor'])(
    'as %s: no way to change anything (fields, pickers, modes and secrets are disabled)',
    async (role) => {
      (config as any).bootData.user.orgRole = role;
      const calls = backend({ [`GET ${R}/settings`]: () => effective });
      render(
        <AppConfig
          {...props(
            { grafanaToken: true },
            { prometheus: { url: 'http://prom:9090' }, loki: { datasourceUid: 'logs' } }
          )}
        />
      );
      expect(await screen.findByTestId(testIds.appConfig.readOnly)).toBeInTheDocument();
      expect(screen.queryByTestId(testIds.appConfig.save)).not.toBeInTheDocument();
      expect(screen.getByDisplayValue('http://prom:9090')).toBeDisabled();
      for (const name of ['loki', 'tempo', 'alertmanager']) {
        // react-select hides a disabled input from the accessibility tree (visibility: hidden).
        const picker = within(screen.getByTestId(testIds.appConfig.datasource(name))).getByRole('combobox', {
          hidden: true,
        });
        expect(picker).toBeDisabled();
      }
      expect(screen.getByTestId(testIds.appConfig.datasource('loki'))).toHaveTextContent('Loki logs');
      for (const radio of screen.getAllByRole('radio')) {
        expect(radio).toBeDisabled();
      }
      // Secrets too, their Reset buttons included (the Grafana token is configured here).
      expect(document.getElementById('grafana-token')).toBeDisabled();
      expect(screen.getByRole('button', { name: 'Reset' })).toBeDisabled();
      // The effective settings are for Admins: the page does not even ask.
      expect(calls).toEqual([]);
    }
  );

  it('shows the backend validation errors and does not save', async () => {
    const calls = backend({
      [`GET ${R}/settings`]: () => effective,
      [`POST ${R}/settings/validate`]: () => ({
        valid: false,
        errors: [{ field: 'prometheus.url', message: '"prom" must start with http:// or https://' }],
      }),
    });
    render(<AppConfig {...props()} />);
    fireEvent.change(screen.getByDisplayValue('http://prom:9090'), { target: { value: 'prom' } });
    fireEvent.click(screen.getByTestId(testIds.appConfig.save));
    expect(await screen.findByTestId(testIds.appConfig.errors)).toHaveTextContent('prometheus.url');
    expect(calls.some((c) => c.url.endsWith('/settings') && c.method === 'POST')).toBe(false);
  });

  it('saves jsonData and only the secrets typed or reset here', async () => {
    const calls = backend({
      [`GET ${R}/settings`]: () => effective,
      [`POST ${R}/settings/validate`]: () => ({ valid: true, errors: [] }),
      'POST /api/plugins/meshwatch-mesh-app/settings': () => ({}),
    });
    render(<AppConfig {...props({ lokiAuth: true, tempoAuth: true })} />);
    await screen.findByPlaceholderText('http://loki.monitoring.svc:3100');
    fireEvent.change(document.getElementById('prometheus-auth')!, { target: { value: 'new-token' } });
    // Reset Tempo's configured secret; leave Loki's alone.
    const resets = screen.getAllByRole('button', { name: /reset/i });
    fireEvent.click(resets[1]);
    fireEvent.click(screen.getByTestId(testIds.appConfig.save));
    await waitFor(() => expect(locationService.reload).toHaveBeenCalled());
    const validate = calls.find((c) => c.url.endsWith('/settings/validate'))!;
    expect(validate.data.secureJsonFields).toMatchObject({ prometheusAuth: true, lokiAuth: true, tempoAuth: false });
    const saved = calls.find((c) => c.url === '/api/plugins/meshwatch-mesh-app/settings')!;
    expect(saved.data.jsonData.prometheus.url).toBe('http://prom:9090');
    expect(saved.data.secureJsonData).toEqual({ prometheusAuth: 'new-token', tempoAuth: '' });
    expect(saved.data.enabled).toBe(true);
  });

  it('a picked datasource is saved as datasourceUid; each picker lists only its own type', async () => {
    const calls = backend({
      [`GET ${R}/settings`]: () => effective,
      [`POST ${R}/settings/validate`]: () => ({ valid: true, errors: [] }),
      'POST /api/plugins/meshwatch-mesh-app/settings': () => ({}),
    });
    render(<AppConfig {...props({}, {})} />);
    await screen.findByText(/uses the direct URL http:\/\/loki.monitoring.svc:3100/);
    const prometheus = within(screen.getByTestId(testIds.appConfig.datasource('prometheus'))).getByRole('combobox');
    fireEvent.keyDown(prometheus, { key: 'ArrowDown' });
    const options = (await screen.findAllByRole('option')).map((o) => o.textContent);
    expect(options).toEqual(['Prometheus main', 'Mimir']);
    fireEvent.click(screen.getByRole('option', { name: 'Mimir' }));
    await pick('loki', 'Loki logs');
    await pick('tempo', 'Tempo traces');
    await pick('alertmanager', 'Alertmanager');
    expect(screen.getByTestId(testIds.appConfig.datasource('prometheus'))).toHaveTextContent(
      "Grafana adds the datasource's own URL, auth, TLS and headers"
    );
    fireEvent.click(screen.getByTestId(testIds.appConfig.save));
    await waitFor(() => expect(locationService.reload).toHaveBeenCalled());
    const validate = calls.find((c) => c.url.endsWith('/settings/validate'))!;
    expect(validate.data.jsonData.prometheus).toEqual({ datasourceUid: 'mimir' });
    const saved = calls.find((c) => c.url === '/api/plugins/meshwatch-mesh-app/settings')!;
    expect(saved.data.jsonData).toMatchObject({
      prometheus: { datasourceUid: 'mimir' },
      loki: { datasourceUid: 'logs' },
      tempo: { datasourceUid: 'traces' },
      alertmanager: { datasourceUid: 'am' },
    });
    expect(saved.data.jsonData.ollama?.datasourceUid).toBeUndefined();
    expect(saved.data.secureJsonData).toEqual({});
  });

  it('Direct URL clears datasourceUid and shows the URL, tenant and secret; back to the picker clears nothing', async () => {
    const calls = backend({
      [`GET ${R}/settings`]: () => effective,
      [`POST ${R}/settings/validate`]: () => ({ valid: true, errors: [] }),
      'POST /api/plugins/meshwatch-mesh-app/settings': () => ({}),
    });
    render(
      <AppConfig {...props({}, { loki: { datasourceUid: 'logs', url: 'http://loki:3100', tenantHeader: 'X-T' } })} />
    );
    const loki = screen.getByRole('radiogroup', { name: 'Loki: connect through' });
    expect(within(loki).getByRole('radio', { name: 'Grafana datasource' })).toBeChecked();
    expect(screen.getByTestId(testIds.appConfig.datasource('loki'))).toHaveTextContent('Loki logs');
    expect(screen.queryByDisplayValue('http://loki:3100')).not.toBeInTheDocument();
    expect(document.getElementById('loki-auth')).toBeNull();

    fireEvent.click(within(loki).getByRole('radio', { name: 'Direct URL' }));
    expect(screen.queryByTestId(testIds.appConfig.datasource('loki'))).not.toBeInTheDocument();
    expect(screen.getByDisplayValue('http://loki:3100')).toBeEnabled();
    expect(screen.getByDisplayValue('X-T')).toBeEnabled();
    fireEvent.change(document.getElementById('loki-auth')!, { target: { value: 'loki-token' } });

    // Back to the picker: nothing is cleared, and until one is picked the direct URL is what is used.
    fireEvent.click(within(loki).getByRole('radio', { name: 'Grafana datasource' }));
    expect(screen.getByTestId(testIds.appConfig.datasource('loki'))).toHaveTextContent(
      'None picked: MeshWatch uses the direct URL http://loki:3100 until you pick one.'
    );
    fireEvent.click(within(loki).getByRole('radio', { name: 'Direct URL' }));
    expect(screen.getByDisplayValue('http://loki:3100')).toBeInTheDocument();

    fireEvent.click(screen.getByTestId(testIds.appConfig.save));
    await waitFor(() => expect(locationService.reload).toHaveBeenCalled());
    const saved = calls.find((c) => c.url === '/api/plugins/meshwatch-mesh-app/settings')!;
    expect(saved.data.jsonData.loki).toEqual({ url: 'http://loki:3100', tenantHeader: 'X-T' });
    expect(saved.data.secureJsonData).toEqual({ lokiAuth: 'loki-token' });
  });

  it('says when a tenant or secret is set but unused beside a datasource, and clears them on request', async () => {
    const calls = backend({
      [`GET ${R}/settings`]: () => effective,
      [`POST ${R}/settings/validate`]: () => ({ valid: true, errors: [] }),
      'POST /api/plugins/meshwatch-mesh-app/settings': () => ({}),
    });
    render(
      <AppConfig
        {...props(
          { prometheusAuth: true, tempoAuth: true },
          {
            prometheus: { datasourceUid: 'prom-main', tenantId: 'team-a' },
            tempo: { datasourceUid: 'traces' },
            loki: { datasourceUid: 'logs' },
          }
        )}
      />
    );
    const note = await screen.findByTestId(testIds.appConfig.unusedNote('prometheus'));
    expect(note).toHaveTextContent('The tenant ID “team-a” and the Authorization secret are not sent');
    expect(screen.getByTestId(testIds.appConfig.unusedNote('tempo'))).toHaveTextContent(
      'The Authorization secret is not sent'
    );
    expect(screen.queryByTestId(testIds.appConfig.unusedNote('loki'))).not.toBeInTheDocument();

    fireEvent.click(within(note).getByRole('button', { name: 'Clear them' }));
    expect(screen.queryByTestId(testIds.appConfig.unusedNote('prometheus'))).not.toBeInTheDocument();
    fireEvent.click(screen.getByTestId(testIds.appConfig.save));
    await waitFor(() => expect(locationService.reload).toHaveBeenCalled());
    const saved = calls.find((c) => c.url === '/api/plugins/meshwatch-mesh-app/settings')!;
    expect(saved.data.jsonData.prometheus).toEqual({ datasourceUid: 'prom-main' });
    // The cleared secret is sent empty (Grafana removes it); Tempo's, untouched, is not sent.
    expect(saved.data.secureJsonData).toEqual({ prometheusAuth: '' });
  });

  it('sends the Grafana service-account token as the grafanaToken secret, and shows its error', async () => {
    const calls = backend({
      [`GET ${R}/settings`]: () => effective,
      [`POST ${R}/settings/validate`]: (c) =>
        c.data.secureJsonFields.grafanaToken
          ? { valid: true, errors: [] }
          : { valid: false, errors: [{ field: 'grafanaToken', message: 'test: no token' }] },
      'POST /api/plugins/meshwatch-mesh-app/settings': () => ({}),
    });
    render(<AppConfig {...props()} />);
    await screen.findByDisplayValue('http://prom:9090');
    fireEvent.click(screen.getByTestId(testIds.appConfig.save));
    expect(await screen.findByTestId(testIds.appConfig.grafanaToken)).toHaveTextContent('test: no token');
    fireEvent.change(document.getElementById('grafana-token')!, { target: { value: 'glsa_test' } });
    fireEvent.click(screen.getByTestId(testIds.appConfig.save));
    await waitFor(() => expect(locationService.reload).toHaveBeenCalled());
    const saved = calls.find((c) => c.url === '/api/plugins/meshwatch-mesh-app/settings')!;
    expect(saved.data.secureJsonData).toEqual({ grafanaToken: 'glsa_test' });
  });

  it('PostgreSQL storage: the DSN is a secret (never in jsonData), the file path is hidden, its error shown', async () => {
    const calls = backend({
      [`GET ${R}/settings`]: () => effective,
      [`POST ${R}/settings/validate`]: (c) =>
        c.data.secureJsonFields.storageDSN
          ? { valid: true, errors: [] }
          : { valid: false, errors: [{ field: 'storage dsn', message: 'test: no DSN' }] },
      'POST /api/plugins/meshwatch-mesh-app/settings': () => ({}),
    });
    render(<AppConfig {...props()} />);
    await screen.findByDisplayValue('http://prom:9090');
    expect(document.getElementById('storage-path')).not.toBeNull();
    expect(document.getElementById('storage-dsn')).toBeNull();
    fireEvent.click(screen.getByLabelText('PostgreSQL'));
    expect(document.getElementById('storage-path')).toBeNull();
    fireEvent.click(screen.getByTestId(testIds.appConfig.save));
    expect(await screen.findByText('test: no DSN')).toBeInTheDocument();
    const dsn = 'postgres://meshwatch:s3cr3t@postgres:5432/meshwatch';
    fireEvent.change(document.getElementById('storage-dsn')!, { target: { value: dsn } });
    fireEvent.click(screen.getByTestId(testIds.appConfig.save));
    await waitFor(() => expect(locationService.reload).toHaveBeenCalled());
    const saved = calls.find((c) => c.url === '/api/plugins/meshwatch-mesh-app/settings')!;
    expect(saved.data.jsonData.storage).toEqual({ kind: 'postgres' });
    expect(saved.data.secureJsonData).toEqual({ storageDSN: dsn });
    expect(JSON.stringify(saved.data.jsonData)).not.toContain('s3cr3t');
  });

  it('switching the LLM off saves ollama.disabled, and on again drops it', async () => {
    const calls = backend({
      [`GET ${R}/settings`]: () => effective,
      [`POST ${R}/settings/validate`]: () => ({ valid: true, errors: [] }),
      'POST /api/plugins/meshwatch-mesh-app/settings': () => ({}),
    });
    render(<AppConfig {...props()} />);
    await screen.findByDisplayValue('http://prom:9090');
    const enabled = document.getElementById('ollama-enabled') as HTMLInputElement;
    expect(enabled.checked).toBe(true);
    fireEvent.click(enabled);
    expect(enabled.checked).toBe(false);
    fireEvent.click(screen.getByTestId(testIds.appConfig.save));
    await waitFor(() => expect(locationService.reload).toHaveBeenCalled());
    const saved = calls.filter((c) => c.url === '/api/plugins/meshwatch-mesh-app/settings');
    expect(saved[saved.length - 1].data.jsonData.ollama).toMatchObject({ disabled: true });
    fireEvent.click(enabled);
    fireEvent.click(screen.getByTestId(testIds.appConfig.save));
    await waitFor(() =>
      expect(calls.filter((c) => c.url === '/api/plugins/meshwatch-mesh-app/settings')).toHaveLength(2)
    );
    const again = calls.filter((c) => c.url === '/api/plugins/meshwatch-mesh-app/settings')[1];
    expect(again.data.jsonData.ollama?.disabled).toBeUndefined();
  });

  it('Test shows every dependency line, also when the check fails with 503', async () => {
    const report = {
      status: 'error',
      summary: 'MeshWatch cannot work: 1 required dependency is failing',
      results: [
        {
          name: 'Prometheus',
          target: 'http://prom:9090',
          required: true,
          status: 'error',
          latencyMs: 3,
          message: 'cannot connect',
        },
        {
          name: 'Loki',
          target: 'http://loki:3100',
          required: false,
          status: 'ok',
          version: '3.7.1',
          latencyMs: 5,
          message: 'reachable',
        },
      ],
    };
    backend({
      [`GET ${R}/settings`]: () => effective,
      'GET /api/plugins/meshwatch-mesh-app/health': () => {
        throw { status: 503, data: { status: 'ERROR', message: 'x', details: report } };
      },
    });
    render(<AppConfig {...props()} />);
    fireEvent.click(screen.getByTestId(testIds.appConfig.test));
    const lines = await screen.findAllByTestId(testIds.appConfig.healthLine);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toHaveTextContent('Prometheus');
    expect(lines[1]).toHaveTextContent('Loki 3.7.1');
    expect(screen.getByTestId(testIds.appConfig.healthReport)).toHaveTextContent('cannot work');
  });
});
