import fs from 'node:fs';
import path from 'node:path';
import { DASHBOARD_DATASOURCE_VARS, withDatasourceVars } from './dashboardLinks';

describe('withDatasourceVars', () => {
  const picked = {
    prometheus: { datasourceUid: 'mimir' },
    loki: { datasourceUid: 'logs-1' },
    tempo: { url: 'http://tempo:3200' },
    alertmanager: { datasourceUid: 'am' },
  };

  it('adds the picked datasources as the dashboard variables of MeshWatch dashboards', () => {
    expect(withDatasourceVars('/d/meshwatch-workload?var-namespace=shop&var-workload=api', picked)).toBe(
      '/d/meshwatch-workload?var-namespace=shop&var-workload=api&var-datasource=mimir&var-loki=logs-1'
    );
    expect(withDatasourceVars('/d/meshwatch-overview', picked)).toBe(
      '/d/meshwatch-overview?var-datasource=mimir&var-loki=logs-1'
    );
    expect(withDatasourceVars('/d/meshwatch-canary/mesh-canary?var-canary=payments#panel-3', picked)).toBe(
      '/d/meshwatch-canary/mesh-canary?var-canary=payments&var-datasource=mimir&var-loki=logs-1#panel-3'
    );
    expect(withDatasourceVars('/d/meshwatch-overview?', { tempo: { datasourceUid: 'tr' } })).toBe(
      '/d/meshwatch-overview?var-tempo=tr'
    );
  });

  it('keeps what the link sets, other links and settings without a datasource as they are', () => {
    expect(withDatasourceVars('/d/meshwatch-workload?var-datasource=other', picked)).toBe(
      '/d/meshwatch-workload?var-datasource=other&var-loki=logs-1'
    );
    expect(withDatasourceVars('/d/someone-else?var-a=b', picked)).toBe('/d/someone-else?var-a=b');
    expect(withDatasourceVars('https://grafana.example/d/meshwatch-workload', picked)).toBe(
      'https://grafana.example/d/meshwatch-workload'
    );
    expect(withDatasourceVars('/d/meshwatch-workload?var-workload=a%20b', {})).toBe(
      '/d/meshwatch-workload?var-workload=a%20b'
    );
    expect(withDatasourceVars('/d/meshwatch-workload', undefined)).toBe('/d/meshwatch-workload');
    // A uid is a query value, encoded as one.
    expect(withDatasourceVars('/d/meshwatch-workload', { prometheus: { datasourceUid: 'a&b' } })).toBe(
      '/d/meshwatch-workload?var-datasource=a%26b'
    );
  });

  // The names are the dashboards' own: every shipped dashboard has them as datasource variables of
  // the section's type, so a renamed variable fails here rather than in a user's browser.
  it('names variables every shipped dashboard has, of the right datasource type', () => {
    const dir = path.resolve(__dirname, '..', 'dashboards');
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const file of files) {
      const dash = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
      expect(dash.uid).toMatch(/^meshwatch-/);
      const vars = new Map<string, { type: string; query: string }>(
        dash.templating.list.map((v: { name: string; type: string; query: string }) => [v.name, v])
      );
      for (const [section, name] of Object.entries(DASHBOARD_DATASOURCE_VARS)) {
        expect([file, vars.get(name)?.type, vars.get(name)?.query]).toEqual([file, 'datasource', section]);
      }
    }
  });
});
