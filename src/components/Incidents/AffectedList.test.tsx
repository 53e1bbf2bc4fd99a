import React from 'react';
import { fireEvent, render, screen, within } from '@testing-library/react';
import { locationService } from '@grafana/runtime';
import { IncidentDetail } from '../../api/types';
import { Incident, Record as AlertRecord } from '../../api/wire/incident';
import { AffectedList } from './AffectedList';

const at = '2026-12-02T09:00:00Z';

function incident(id: number, workload: string, extra: Partial<Incident> = {}): Incident {
  return {
    id,
    key: { namespace: 'shop', workload },
    state: 'open',
    severity: 'critical',
    title: 'LatencyHigh',
    startedAt: at,
    updatedAt: at,
    flapping: false,
    alerts: 2,
    firing: 2,
    version: 1,
    ...extra,
  };
}

function alert(name: string, workload: string): AlertRecord {
  return {
    fingerprint: `${name}-${workload}`,
    status: 'firing',
    labels: { alertname: name, namespace: 'shop', workload },
    startsAt: at,
    source: 'alertmanager',
    firstSeen: at,
    lastSeen: at,
  } as AlertRecord;
}

describe('AffectedList', () => {
  beforeEach(() => locationService.push('/a/meshwatch-mesh-app/incidents?incident=1'));

  it("lists a root's affected incidents with their own alerts, and the merge record", () => {
    const detail: IncidentDetail = {
      incident: incident(1, 'stock', { affected: [2, 3], groupAlerts: 6, groupFiring: 6, groupWorkloads: 3 }),
      alerts: [alert('LatencyHigh', 'stock'), alert('ErrorRatioHigh', 'stock')],
      affected: [
        { incident: incident(2, 'api'), alerts: [alert('LatencyHigh', 'api'), alert('ErrorRatioHigh', 'api')] },
        { incident: incident(3, 'web'), alerts: [alert('LatencyHigh', 'web'), alert('ErrorRatioHigh', 'web')] },
      ],
      merges: [
        { id: 7, at, kind: 'merge', root: 1, members: [2, 3], reason: '3 incidents on 3 workloads blame shop/stock' },
      ],
    };
    render(<AffectedList detail={detail} />);
    expect(
      screen.getByText(/Affected workloads \(2\): 6 alerts on 3 workloads, shop\/stock the root/)
    ).toBeInTheDocument();
    const list = screen.getByRole('list', { name: 'Affected incidents' });
    expect(within(list).getByText('shop/api')).toBeInTheDocument();
    const webAlerts = screen.getByRole('list', { name: 'Alerts of shop/web' });
    expect(within(webAlerts).getAllByRole('listitem')).toHaveLength(2);
    expect(screen.getByRole('list', { name: 'Merges and splits' })).toHaveTextContent(
      'merged #2, #3 into #1 — 3 incidents on 3 workloads blame shop/stock'
    );
    fireEvent.click(screen.getByRole('button', { name: 'Incident #3' }));
    expect(locationService.getSearchObject().incident).toBe('3');
  });

  it('points a merged incident to its root', () => {
    render(<AffectedList detail={{ incident: incident(2, 'api', { mergedInto: 1 }), alerts: [] }} />);
    expect(screen.getByText('Part of incident #1')).toBeInTheDocument();
    fireEvent.click(screen.getByRole('button', { name: 'Open incident #1' }));
    expect(locationService.getSearchObject().incident).toBe('1');
  });

  it('shows nothing for an incident on its own', () => {
    const { container } = render(<AffectedList detail={{ incident: incident(4, 'orders'), alerts: [] }} />);
    expect(container).toBeEmptyDOMElement();
  });
});
