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
  it('puts the live alerts above an empty state that says what this version does', () => {
    (getGrafanaLiveSrv as jest.Mock).mockReturnValue({ getStream: () => NEVER });
    render(
      <MemoryRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
        <Incidents />
      </MemoryRouter>
    );
    const section = screen.getByTestId(testIds.incidents.alertsNow);
    expect(screen.getByRole('heading', { name: 'Alerts now' })).toBeInTheDocument();
    const empty = screen.getByText('No incidents yet');
    expect(section.compareDocumentPosition(empty) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
    expect(screen.getByText(/not part of this version yet/)).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'configuration page' })).toHaveAttribute(
      'href',
      '/plugins/meshwatch-mesh-app'
    );
  });
});
