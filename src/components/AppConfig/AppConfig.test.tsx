import React from 'react';
import { of, throwError } from 'rxjs';
import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { PluginType } from '@grafana/data';
import { config, getBackendSrv, locationService } from '@grafana/runtime';
import AppConfig, { AppConfigProps } from './AppConfig';
import { EffectiveSettings } from '../../api/types';
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
  storage: { path: '/var/lib/grafana/plugin-data/meshwatch-mesh-app/meshwatch.db', retentionDays: 90 },
  incidents: { reconcileSeconds: 60 },
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

const props = (secureJsonFields: Record<string, boolean> = {}) =>
  ({
    plugin: {
      meta: {
        id: 'meshwatch-mesh-app',
        name: 'MeshWatch',
        type: PluginType.app,
        enabled: true,
        pinned: true,
        jsonData: { prometheus: { url: 'http://prom:9090' } },
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
    expect(await screen.findByPlaceholderText('http://loki.monitoring.svc:3100')).toBeInTheDocument();
    expect(screen.getByDisplayValue('http://prom:9090')).toBeInTheDocument();
    expect(screen.getByPlaceholderText('phi3:mini')).toBeInTheDocument();
    expect(screen.getByTestId(testIds.appConfig.save)).toBeEnabled();
  });

  it('gives a Viewer no way to change anything', async () => {
    (config as any).bootData.user.orgRole = 'Viewer';
    backend({ [`GET ${R}/settings`]: () => effective });
    render(<AppConfig {...props()} />);
    expect(await screen.findByTestId(testIds.appConfig.readOnly)).toBeInTheDocument();
    expect(screen.queryByTestId(testIds.appConfig.save)).not.toBeInTheDocument();
    expect(screen.getByDisplayValue('http://prom:9090')).toBeDisabled();
  });

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
