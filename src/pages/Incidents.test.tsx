import React from 'react';
import { NEVER } from 'rxjs';
import { MemoryRouter } from 'react-router-dom';
import { render, screen } from '@testing-library/react';
import { getGrafanaLiveSrv } from '@grafana/runtime';
import Incidents from './Incidents';
import { testIds } from '../components/testIds';

jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getGrafanaLiveSrv: jest.fn(),
  PluginPage: ({ children }: { children: React.ReactNode }) => <>{children}</>,
}));

describe('Incidents page', () => {
  it('puts the live incident list above the live alerts, each on its own channel', () => {
    const getStream = jest.fn(() => NEVER);
    (getGrafanaLiveSrv as jest.Mock).mockReturnValue({ getStream });
    render(
      <MemoryRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
        <Incidents />
      </MemoryRouter>
    );
    const list = screen.getByTestId(testIds.incidents.list);
    const alertsNow = screen.getByTestId(testIds.incidents.alertsNow);
    expect(screen.getByRole('heading', { name: 'Incident list' })).toBeInTheDocument();
    expect(screen.getByRole('heading', { name: 'Alerts now' })).toBeInTheDocument();
    expect(list.compareDocumentPosition(alertsNow) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
    expect(getStream.mock.calls.map(([addr]: any[]) => addr.path).sort()).toEqual(['alerts', 'incidents']);
  });
});
