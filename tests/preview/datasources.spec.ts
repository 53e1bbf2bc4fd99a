/*
 * The preview host plays Grafana's datasources: /api/datasources lists the
 * stack's four, and the datasource proxy reaches the real Prometheus, for the
 * page's session and for the service-account token --stack writes to a file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect, openPage, previewURL, test } from './fixtures';

interface ListedDatasource {
  uid: string;
  type: string;
  name: string;
  url: string;
  access: string;
  isDefault: boolean;
  jsonData: Record<string, unknown>;
}

const BUILDINFO = '/api/datasources/proxy/uid/prometheus/api/v1/status/buildinfo';

test('the host lists the stack’s datasources and proxies the page to the real Prometheus', async ({
  page,
  request,
}) => {
  await openPage(page, 'incidents');
  const listed = await page.evaluate(async () => (await fetch('/api/datasources')).json());
  const byUid = new Map((listed as ListedDatasource[]).map((ds) => [ds.uid, ds]));
  expect([...byUid.keys()].sort()).toEqual(['alertmanager', 'loki', 'prometheus', 'tempo']);
  expect(byUid.get('prometheus')).toMatchObject({ type: 'prometheus', access: 'proxy', isDefault: true });
  expect(byUid.get('alertmanager')?.jsonData).toMatchObject({ implementation: 'prometheus' });

  // What the real Prometheus says of itself, asked directly, and through the proxy from the page.
  const direct = await (await request.get(`${byUid.get('prometheus')!.url}/api/v1/status/buildinfo`)).json();
  expect(direct.data.version).toMatch(/^\d+\.\d+\.\d+/);
  const proxied = await page.evaluate(async (url) => {
    const r = await fetch(url);
    return { status: r.status, body: await r.json() };
  }, BUILDINFO);
  expect(proxied.status).toBe(200);
  expect(proxied.body.data.version).toBe(direct.data.version);
});

test('the datasource proxy takes the --stack service-account token and refuses a missing or wrong one', async ({
  playwright,
}) => {
  const tokenFile = path.join(process.env.PREVIEW_WORKDIR ?? '', 'main', 'preview-service-account-token');
  const token = fs.readFileSync(tokenFile, 'utf8').trim();
  const api = await playwright.request.newContext({ baseURL: previewURL() }); // no role cookie
  try {
    expect((await api.get(BUILDINFO)).status()).toBe(401);
    const wrong = await api.get(BUILDINFO, { headers: { Authorization: 'Bearer glsa_wrong' } });
    expect(wrong.status()).toBe(401);
    expect(await wrong.json()).toHaveProperty('message');
    const ok = await api.get(BUILDINFO, { headers: { Authorization: `Bearer ${token}` } });
    expect(ok.status()).toBe(200);
    expect((await ok.json()).data.version).toMatch(/^\d+\.\d+\.\d+/);
  } finally {
    await api.dispose();
  }
});
