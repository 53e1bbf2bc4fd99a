import { readIncidentsPacket } from './incidentsFrame';
import { incidentsPacket } from './__fixtures__/incidentsPacket';

// Two incidents as grafana-plugin-sdk-go's data.FrameToJSON(incidents.Frame(…), data.IncludeAll)
// wrote them (times with sub-millisecond nanos, a null resolvedAt while open).
const FROM_GO = `{"schema":{"name":"incidents","meta":{"typeVersion":[0,0]},"fields":[{"name":"id","type":"number","typeInfo":{"frame":"int64"}},{"name":"state","type":"string","typeInfo":{"frame":"string"}},{"name":"severity","type":"string","typeInfo":{"frame":"string"}},{"name":"namespace","type":"string","typeInfo":{"frame":"string"}},{"name":"workload","type":"string","typeInfo":{"frame":"string"}},{"name":"title","type":"string","typeInfo":{"frame":"string"}},{"name":"summary","type":"string","typeInfo":{"frame":"string"}},{"name":"startedAt","type":"time","typeInfo":{"frame":"time.Time"}},{"name":"resolvedAt","type":"time","typeInfo":{"frame":"time.Time","nullable":true}},{"name":"updatedAt","type":"time","typeInfo":{"frame":"time.Time"}},{"name":"alerts","type":"number","typeInfo":{"frame":"int64"}},{"name":"firing","type":"number","typeInfo":{"frame":"int64"}},{"name":"flapping","type":"boolean","typeInfo":{"frame":"bool"}},{"name":"reopens","type":"number","typeInfo":{"frame":"int64"}},{"name":"topFinding","type":"string","typeInfo":{"frame":"string"}}]},"data":{"values":[[7,8],["open","resolved"],["critical",""],["shop","kube-system"],["api",""],["X","Y"],["",""],[1796119200123,1796119200123],[null,1796122800123],[1796119200123,1796119200123],[2,0],[1,0],[true,false],[1,0],["",""]],"nanos":[null,null,null,null,null,null,null,[456789,456789],[0,456789],[456789,456789],null,null,null,null,null]}}`;

describe('readIncidentsPacket', () => {
  it('reads the frame the Go SDK encodes, one row per incident in frame order', () => {
    const snap = readIncidentsPacket(JSON.parse(FROM_GO));
    expect(snap?.notice).toBeUndefined();
    expect(snap?.rows).toEqual([
      {
        id: 7,
        state: 'open',
        severity: 'critical',
        namespace: 'shop',
        workload: 'api',
        title: 'X',
        summary: '',
        startedAt: 1796119200123,
        resolvedAt: undefined,
        updatedAt: 1796119200123,
        alerts: 2,
        firing: 1,
        flapping: true,
        reopens: 1,
        topFinding: '',
        groupAlerts: 2,
        groupWorkloads: 1,
      },
      {
        id: 8,
        state: 'resolved',
        severity: '',
        namespace: 'kube-system',
        workload: '',
        title: 'Y',
        summary: '',
        startedAt: 1796119200123,
        resolvedAt: 1796122800123,
        updatedAt: 1796119200123,
        alerts: 0,
        firing: 0,
        flapping: false,
        reopens: 0,
        topFinding: '',
        groupAlerts: 0,
        groupWorkloads: 1,
      },
    ]);
  });

  it("reads a group's alerts and workloads (one fault, one incident)", () => {
    const snap = readIncidentsPacket(
      incidentsPacket([{ id: 3, namespace: 'shop', workload: 'stock', alerts: 2, groupAlerts: 6, groupWorkloads: 3 }])
    );
    expect(snap?.rows[0]).toMatchObject({ id: 3, workload: 'stock', alerts: 2, groupAlerts: 6, groupWorkloads: 3 });
  });

  it('carries the error notice of an error frame, with no rows', () => {
    const snap = readIncidentsPacket(incidentsPacket([], 'the incident store cannot be opened: disk full'));
    expect(snap).toEqual({ rows: [], notice: 'the incident store cannot be opened: disk full' });
  });

  it('ignores packets that are not the incidents frame', () => {
    expect(readIncidentsPacket(undefined)).toBeUndefined();
    expect(readIncidentsPacket('incidents')).toBeUndefined();
    expect(readIncidentsPacket({ data: { values: [] } })).toBeUndefined();
    // The alerts frame (same Live plumbing, other fields).
    expect(
      readIncidentsPacket({
        schema: { fields: [{ name: 'state' }, { name: 'alertname' }] },
        data: { values: [[], []] },
      })
    ).toBeUndefined();
  });

  it('lower-cases severities, treats Go zero times as unknown and skips rows without an id', () => {
    const packet = incidentsPacket([
      { id: 1, severity: 'Critical', startedAt: -62135596800000, updatedAt: -62135596800000 },
      { id: 2, severity: 'WARNING', startedAt: 1000, alerts: -3 },
    ]);
    (packet.data!.values[0] as unknown[])[0] = null;
    const rows = readIncidentsPacket(packet)!.rows;
    expect(rows.map((r) => r.id)).toEqual([2]);
    expect(rows[0].severity).toBe('warning');
    expect(rows[0].alerts).toBe(0);

    const zero = readIncidentsPacket(incidentsPacket([{ id: 3, startedAt: -62135596800000 }]))!.rows[0];
    expect(zero.startedAt).toBeUndefined();
  });
});
