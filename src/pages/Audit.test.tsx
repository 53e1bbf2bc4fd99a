import React from 'react';
import { render, screen } from '@testing-library/react';
import { of } from 'rxjs';
import { config, getBackendSrv } from '@grafana/runtime';
import Audit from './Audit';

jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getBackendSrv: jest.fn(),
  PluginPage: ({ children }: { children: React.ReactNode }) => <div>{children}</div>,
}));

const SLOW = { timeout: 10_000 };

function answer(verdict: unknown) {
  const fetch = jest.fn(() => of({ data: verdict, status: 200 }));
  (getBackendSrv as jest.Mock).mockReturnValue({ fetch });
  return fetch;
}

describe('Audit page', () => {
  it('shows an intact chain and the exports to an Admin', async () => {
    config.bootData.user.orgRole = 'Admin' as typeof config.bootData.user.orgRole;
    answer({ ok: true, entries: 12, head: 'abc123' });
    render(<Audit />);
    expect(await screen.findByTestId('audit-verdict-ok', {}, SLOW)).toHaveTextContent('12 entries');
    expect(screen.getByRole('link', { name: /Export CSV/ })).toHaveAttribute(
      'href',
      expect.stringMatching(/\/signoff\/audit\/export\?format=csv$/)
    );
  });

  it('names the entry where the chain breaks', async () => {
    config.bootData.user.orgRole = 'Admin' as typeof config.bootData.user.orgRole;
    answer({
      ok: false,
      entries: 5,
      head: '',
      break: { position: 3, seq: 3, kind: 'altered', reason: 'entry 3 (approve 7:3:root by eddie) was altered' },
    });
    render(<Audit />);
    expect(await screen.findByTestId('audit-verdict-broken', {}, SLOW)).toHaveTextContent(
      'entry 3 (approve 7:3:root by eddie) was altered'
    );
  });

  it('asks nothing of the backend for a non-Admin', async () => {
    config.bootData.user.orgRole = 'Editor' as typeof config.bootData.user.orgRole;
    const fetch = answer({});
    render(<Audit />);
    expect(await screen.findByText('Admins only', {}, SLOW)).toBeInTheDocument();
    expect(fetch).not.toHaveBeenCalled();
  });
});
