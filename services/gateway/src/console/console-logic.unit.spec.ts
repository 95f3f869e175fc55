/**
 * The console's browser logic (plain JS with JSDoc): static/js/logic.js (roles and enums read from
 * the gateway's own OpenAPI document, API errors in words, routes, progress, ids and file types),
 * device-table-logic.js (sorting, CSV export), revocation-logic.js (a revocation's progress) and
 * dashboard-logic.js (the fleet samples and the charts' series).
 */
import { buildOpenApiDocument } from '../openapi/openapi-document.js';
import { deviceSortFieldNames } from '../queries/device-list/device-list.query.js';

interface ConsoleLogic {
  allows(held: string | undefined, required: string): boolean;
  requiredRole(doc: unknown, method: string, path: string): string;
  bodyEnum(doc: unknown, path: string, field: string[], fallback?: string[]): string[];
  describeError(status: number, body: unknown): { title: string; message: string; code: string; details: string[] };
  formatTime(iso: string | undefined): string;
  relativeTime(iso: string | undefined, now: number): string;
  pageLabel(page: { total: number; offset: number; items: unknown[] }): string;
  progressSegments(batch: {
    counts: Record<string, number>;
    devices: number;
    expectedSize: number;
  }): { state: string; count: number; percent: number }[];
  batchStage(batch: { counts: Record<string, number>; devices: number; expectedSize: number }): {
    summary: string;
    next?: string;
  };
  parseRoute(hash: string): { name: string; id?: string; query: Record<string, string> };
  routeHash(path: string, query?: Record<string, string | number | undefined>): string;
  idFromName(name: string, suffix: string): string;
  identityFileType(fileName: string, text: string): string;
  humanize(value: string): string;
  eventSummary(event: { type: string; data?: unknown }): string;
  foldTimeline(
    events: { type: string; data?: unknown; occurredAt: string }[],
  ): { type: string; summary: string; folded: number }[];
}

// A path held in a variable: the browser module is plain JS, loaded as is (no TypeScript types).
const modulePath = './static/js/logic.js';
let logic: ConsoleLogic;
let openapi: unknown;

beforeAll(async () => {
  logic = (await import(modulePath)) as ConsoleLogic;
  openapi = buildOpenApiDocument();
});

describe('roles, from the OpenAPI document the gateway serves', () => {
  it('orders viewer < operator < admin and fails closed on an unknown role', () => {
    expect(logic.allows('admin', 'operator')).toBe(true);
    expect(logic.allows('operator', 'operator')).toBe(true);
    expect(logic.allows('viewer', 'operator')).toBe(false);
    expect(logic.allows(undefined, 'viewer')).toBe(false);
    expect(logic.allows('root', 'viewer')).toBe(false);
  });

  it("reads each command's role: operators provision, admins revoke and manage the catalog", () => {
    expect(logic.requiredRole(openapi, 'post', '/api/batches')).toBe('operator');
    expect(logic.requiredRole(openapi, 'post', '/api/certifications')).toBe('operator');
    expect(logic.requiredRole(openapi, 'post', '/api/devices/{deviceId}/revocation')).toBe('admin');
    expect(logic.requiredRole(openapi, 'post', '/api/policies')).toBe('admin');
    expect(logic.requiredRole(openapi, 'get', '/api/devices')).toBe('viewer');
    expect(logic.requiredRole(openapi, 'post', '/api/no-such-route')).toBe('admin');
  });

  it('takes the drop-downs from the contracts: revocation reasons, target kinds, topic access', () => {
    expect(logic.bodyEnum(openapi, '/api/devices/{deviceId}/revocation', ['reason'])).toEqual(
      expect.arrayContaining(['keyCompromise', 'superseded', 'cessationOfOperation']),
    );
    expect(logic.bodyEnum(openapi, '/api/targets', ['kind'])).toContain('mosquitto');
    expect(logic.bodyEnum(openapi, '/api/policies', ['topicRights', 'access']).sort()).toEqual([
      'publish',
      'publish-subscribe',
      'subscribe',
    ]);
    expect(logic.bodyEnum(openapi, '/api/nowhere', ['reason'], ['unspecified'])).toEqual(['unspecified']);
  });
});

describe('API errors in words', () => {
  it("keeps the API's message and code and names the failing fields or rows", () => {
    const described = logic.describeError(400, {
      error: {
        code: 'CONTRACT_VIOLATION',
        message: 'CreateBatch is malformed',
        details: [
          { path: '/expectedSize', message: 'must be integer' },
          { row: 7, reason: 'duplicate device id' },
        ],
      },
    });
    expect(described).toEqual({
      title: 'Please check the input',
      message: 'CreateBatch is malformed',
      code: 'CONTRACT_VIOLATION',
      details: ['/expectedSize: must be integer', 'row 7: duplicate device id'],
    });
  });

  it('explains a failure without a body (gateway down, 403, 503)', () => {
    expect(logic.describeError(0, undefined).message).toMatch(/could not be reached/);
    expect(logic.describeError(403, undefined)).toMatchObject({ title: 'Not allowed', code: 'HTTP_403' });
    expect(logic.describeError(503, {}).message).toMatch(/did not answer/);
  });
});

describe('routes', () => {
  it('parses pages, a device and filters from the hash, and builds hashes without empty filters', () => {
    expect(logic.parseRoute('')).toEqual({ name: 'batches', query: {} });
    expect(logic.parseRoute('#/devices?batchId=b-1&state=Certified')).toEqual({
      name: 'devices',
      query: { batchId: 'b-1', state: 'Certified' },
    });
    expect(logic.parseRoute('#/devices/d-7f3a')).toEqual({ name: 'device', id: 'd-7f3a', query: {} });
    expect(logic.routeHash('/devices', { batchId: 'b-1', state: '', offset: 50, q: undefined })).toBe(
      '#/devices?batchId=b-1&offset=50',
    );
  });
});

describe('batch progress', () => {
  const batch = { counts: { Imported: 0, Verified: 250, Certified: 750 }, devices: 1_000, expectedSize: 1_000 };

  it('has one segment per state reached, in lifecycle order, as a share of the batch', () => {
    expect(logic.progressSegments(batch)).toEqual([
      { state: 'Verified', count: 250, percent: 25 },
      { state: 'Certified', count: 750, percent: 75 },
    ]);
    // Part of a larger expected batch imported so far: the bar is not full.
    expect(logic.progressSegments({ counts: { Imported: 10 }, devices: 10, expectedSize: 40 })).toEqual([
      { state: 'Imported', count: 10, percent: 25 },
    ]);
  });

  it('names the next step an operator takes', () => {
    expect(logic.batchStage({ counts: {}, devices: 0, expectedSize: 20 }).next).toBe('import');
    expect(logic.batchStage({ counts: { Imported: 20 }, devices: 20, expectedSize: 20 })).toEqual({
      summary: '20 to verify',
      next: 'verify',
    });
    expect(logic.batchStage(batch)).toEqual({ summary: '250 to certify', next: 'certify' });
    expect(logic.batchStage({ counts: { Onboarded: 20 }, devices: 20, expectedSize: 20 }).next).toBeUndefined();
  });

  it('labels pages of the server-side lists', () => {
    expect(logic.pageLabel({ total: 10_000, offset: 50, items: new Array(50) })).toBe('51–100 of 10,000');
    expect(logic.pageLabel({ total: 0, offset: 0, items: [] })).toBe('none');
  });
});

describe('formatting', () => {
  const now = Date.parse('2025-03-01T12:00:00Z');

  it('shows times in UTC and relative to now', () => {
    expect(logic.formatTime('2025-03-01T11:58:00.123Z')).toBe('2025-03-01 11:58:00 UTC');
    expect(logic.formatTime(undefined)).toBe('—');
    expect(logic.relativeTime('2025-03-01T11:58:00Z', now)).toBe('2 min ago');
    expect(logic.relativeTime('2026-03-01T12:00:00Z', now)).toBe('in 365 days');
    expect(logic.relativeTime('2025-03-01T11:59:55Z', now)).toBe('just now');
  });

  it('makes ids the API accepts from names, and words from contract values', () => {
    expect(logic.idFromName('1,000 Fridges — Line 3!', 'a1b2c3')).toBe('1-000-fridges-line-3-a1b2c3');
    expect(logic.idFromName('   ', 'a1b2c3')).toBe('item-a1b2c3');
    expect(logic.humanize('keyCompromise')).toBe('Key compromise');
    expect(logic.humanize('cACompromise')).toBe('CA compromise');
    expect(logic.humanize('publish-subscribe')).toBe('Publish subscribe');
  });

  it('sends an identity file as JSON or CSV by its name, else by its content', () => {
    expect(logic.identityFileType('fleet.csv', '[')).toBe('text/csv');
    expect(logic.identityFileType('fleet.json', 'deviceId,')).toBe('application/json');
    expect(logic.identityFileType('export', '  [{"deviceId":"d-1"}]')).toBe('application/json');
    expect(logic.identityFileType('export', 'deviceId,enrolmentPublicKey')).toBe('text/csv');
  });

  it('summarises timeline events', () => {
    expect(
      logic.eventSummary({ type: 'DeviceConnected', data: { targetId: 'plant-broker', tlsProtocol: 'TLSv1.3' } }),
    ).toBe('Connected to plant-broker (TLSv1.3)');
    expect(logic.eventSummary({ type: 'DeviceRevoked', data: { reason: 'keyCompromise' } })).toBe(
      'Revoked (Key compromise)',
    );
    expect(logic.eventSummary({ type: 'SomethingNew', data: {} })).toBe('Something new');
  });

  it('folds runs of periodic telemetry counters into one line, keeping the lifecycle events', () => {
    const at = '2025-03-01T12:00:00Z';
    const lines = logic.foldTimeline([
      { type: 'DeviceConnected', data: { targetId: 't' }, occurredAt: at },
      { type: 'TelemetryReceived', data: { kind: 'first', topic: 'f/d/telemetry' }, occurredAt: at },
      ...[2, 3, 4].map((n) => ({
        type: 'TelemetryReceived',
        data: { kind: 'counters', messagesTotal: n },
        occurredAt: at,
      })),
      { type: 'DeviceRevoked', data: { reason: 'keyCompromise' }, occurredAt: at },
    ]);
    expect(lines.map((l) => [l.type, l.summary])).toEqual([
      ['DeviceConnected', 'Connected to t'],
      ['TelemetryReceived', 'First telemetry on f/d/telemetry'],
      ['TelemetryReceived', 'Telemetry: 4 messages (3 updates)'],
      ['DeviceRevoked', 'Revoked (Key compromise)'],
    ]);
  });
});

interface DeviceRow {
  deviceId: string;
  batchId?: string;
  state: string;
  stateChangedAt?: string;
  connection: string;
  targets: { targetId: string; status: string; connected: boolean }[];
  messagesTotal: number;
  lastTelemetryAt?: string;
  certificate?: { serialNumber: string; notAfter: string };
  problem?: string;
}
type Sort = { column: string; direction: 'asc' | 'desc' } | undefined;
interface DeviceTableLogic {
  sortOf(query: Record<string, string>): Sort;
  nextSort(current: Sort, column: string): Sort;
  sortParam(sort: Sort): string | undefined;
  csvField(value: unknown): string;
  devicesCsv(devices: DeviceRow[]): string;
  exportFileName(filters: Record<string, string | undefined>, now: number): string;
}
interface RevocationProgress {
  total: number;
  revoked: number;
  connected: number;
  refused: number;
  percent: number;
  done: boolean;
}
interface RevocationLogic {
  devicesRevocationProgress(
    deviceIds: string[],
    seen: Map<string, { state: string; connection: string } | undefined>,
    refused?: number,
  ): RevocationProgress;
  batchRevocationProgress(batch: {
    devices: number;
    connected: number;
    counts: Record<string, number>;
  }): RevocationProgress;
  revocationLabel(progress: RevocationProgress): string;
}
interface FleetSample {
  at: number;
  devices: number;
  counts: Record<string, number>;
  connected: number;
  certified: number;
  revoked: number;
  telemetryMessages: number;
}
interface DashboardLogic {
  mergeSamples(kept: FleetSample[], incoming: FleetSample[], keep?: number): FleetSample[];
  telemetryRates(samples: FleetSample[]): (number | null)[];
  dashboardSeries(samples: FleetSample[]): Record<'states' | 'connected' | 'telemetry' | 'lifecycle', unknown[][]>;
  dashboardTiles(samples: FleetSample[]): Record<string, number | null>;
}

const deviceTablePath = './static/js/device-table-logic.js';
const revocationPath = './static/js/revocation-logic.js';
const dashboardPath = './static/js/dashboard-logic.js';

const row = (deviceId: string, fields: Partial<DeviceRow> = {}): DeviceRow => ({
  deviceId,
  state: 'Onboarded',
  connection: 'connected',
  targets: [],
  messagesTotal: 0,
  ...fields,
});

describe('device list: sorting the fleet by a column (on the gateway)', () => {
  let table: DeviceTableLogic;
  beforeAll(async () => {
    table = (await import(deviceTablePath)) as DeviceTableLogic;
  });

  it('reads the sort from the route, and a click goes ascending, descending, then back to the list order', () => {
    expect(table.sortOf({ sort: 'expires', order: 'desc' })).toEqual({ column: 'expires', direction: 'desc' });
    expect(table.sortOf({ sort: 'state' })).toEqual({ column: 'state', direction: 'asc' });
    expect(table.sortOf({ sort: 'nonsense' })).toBeUndefined();
    expect(table.nextSort(undefined, 'state')).toEqual({ column: 'state', direction: 'asc' });
    expect(table.nextSort({ column: 'state', direction: 'asc' }, 'state')).toEqual({
      column: 'state',
      direction: 'desc',
    });
    expect(table.nextSort({ column: 'state', direction: 'desc' }, 'state')).toBeUndefined();
    expect(table.nextSort({ column: 'state', direction: 'desc' }, 'telemetry')).toEqual({
      column: 'telemetry',
      direction: 'asc',
    });
  });

  it("asks the gateway for its sort field, and has none for the columns summed over a device's targets", () => {
    expect(table.sortParam({ column: 'state', direction: 'asc' })).toBe('state');
    expect(table.sortParam({ column: 'expires', direction: 'desc' })).toBe('certificateNotAfter:desc');
    expect(table.sortParam({ column: 'telemetry', direction: 'asc' })).toBe('lastTelemetryAt');
    expect(table.sortParam({ column: 'device', direction: 'desc' })).toBe('deviceId:desc');
    expect(table.sortParam(undefined)).toBeUndefined();
    // Messages and targets are sums over links: not sortable, and a hand-written URL asking for it is ignored.
    expect(table.sortOf({ sort: 'messages' })).toBeUndefined();
    expect(table.sortParam({ column: 'messages', direction: 'asc' })).toBeUndefined();
  });

  it('names only sort fields the gateway knows', async () => {
    const { deviceColumns } = (await import(deviceTablePath)) as { deviceColumns: { sortField?: string }[] };
    const fields = deviceColumns.flatMap((c) => (c.sortField ? [c.sortField] : []));
    expect(fields.length).toBeGreaterThan(0);
    for (const field of fields) expect(deviceSortFieldNames).toContain(field);
  });
});

describe('device list: CSV export', () => {
  let table: DeviceTableLogic;
  beforeAll(async () => {
    table = (await import(deviceTablePath)) as DeviceTableLogic;
  });

  it('writes a header and one line per device, with the fields the list shows', () => {
    const csv = table.devicesCsv([
      row('d-1', {
        batchId: 'b1',
        stateChangedAt: '2030-01-01T00:00:00.000Z',
        targets: [
          { targetId: 't1', status: 'onboarded', connected: true },
          { targetId: 't2', status: 'deprovisioned', connected: false },
        ],
        messagesTotal: 42,
        certificate: { serialNumber: '0a0b', notAfter: '2031-01-01T00:00:00.000Z' },
      }),
      row('d-2', { state: 'Imported', connection: 'never', problem: 'signature did not verify, "twice"' }),
    ]);
    expect(csv.split('\r\n')).toEqual([
      'deviceId,batchId,state,stateChangedAt,connection,targets,messagesTotal,lastTelemetryAt,certificateSerial,certificateNotAfter,problem',
      'd-1,b1,Onboarded,2030-01-01T00:00:00.000Z,connected,t1:onboarded t2:deprovisioned,42,,0a0b,2031-01-01T00:00:00.000Z,',
      'd-2,,Imported,,never,,0,,,,"signature did not verify, ""twice"""',
      '',
    ]);
  });

  it('quotes what would break a line and defuses what a spreadsheet would run as a formula', () => {
    expect(table.csvField('a\nb')).toBe('"a\nb"');
    expect(table.csvField('=HYPERLINK("x")')).toBe('"\'=HYPERLINK(""x"")"');
    expect(table.csvField('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(table.csvField('-A1')).toBe("'-A1");
    // Numbers, and ids that merely start with a digit after a dash, stay as they are.
    expect(table.csvField(-3)).toBe('-3');
    expect(table.csvField('-1')).toBe('-1');
    expect(table.csvField(undefined)).toBe('');
  });

  it('names the file after the filters and the time', () => {
    expect(
      table.exportFileName({ batchId: 'b1', connection: 'connected', q: '' }, Date.parse('2025-03-01T12:00:00.123Z')),
    ).toBe('devices-b1-connected-2025-03-01T12-00-00Z.csv');
    expect(table.exportFileName({}, Date.parse('2025-03-01T12:00:00Z'))).toBe('devices-2025-03-01T12-00-00Z.csv');
  });
});

describe('revocation progress, from what the live events show', () => {
  let revocation: RevocationLogic;
  beforeAll(async () => {
    revocation = (await import(revocationPath)) as RevocationLogic;
  });

  it('counts the selected devices revoked and those still connected; done once all are revoked and cut off', () => {
    const seen = new Map<string, { state: string; connection: string } | undefined>([
      ['d-1', { state: 'Revoked', connection: 'disconnected' }],
      ['d-2', { state: 'Onboarded', connection: 'connected' }],
      ['d-3', undefined],
    ]);
    const started = revocation.devicesRevocationProgress(['d-1', 'd-2', 'd-3'], seen, 1);
    expect(started).toEqual({ total: 3, revoked: 1, connected: 1, refused: 1, percent: 33, done: false });
    expect(revocation.revocationLabel(started)).toBe('1 of 3 revoked · 1 still connected · 1 refused');

    seen.set('d-2', { state: 'Revoked', connection: 'connected' });
    seen.set('d-3', { state: 'Revoked', connection: 'never' });
    const revokedStillOn = revocation.devicesRevocationProgress(['d-1', 'd-2', 'd-3'], seen);
    expect(revokedStillOn).toMatchObject({ revoked: 3, connected: 1, percent: 100, done: false });

    seen.set('d-2', { state: 'Revoked', connection: 'disconnected' });
    const done = revocation.devicesRevocationProgress(['d-1', 'd-2', 'd-3'], seen);
    expect(done.done).toBe(true);
    expect(revocation.revocationLabel(done)).toBe('All 3 revoked and cut off');
  });

  it("follows a batch's revocation from its live counts", () => {
    const batch = { devices: 1_000, connected: 250, counts: { Onboarded: 400, Revoked: 600 } };
    const progress = revocation.batchRevocationProgress(batch);
    expect(progress).toEqual({ total: 1_000, revoked: 600, connected: 250, refused: 0, percent: 60, done: false });
    expect(revocation.revocationLabel(progress)).toBe('600 of 1,000 revoked · 250 still connected');
    expect(revocation.batchRevocationProgress({ devices: 1_000, connected: 0, counts: { Revoked: 1_000 } }).done).toBe(
      true,
    );
  });
});

describe('fleet dashboard: the samples and the series the charts draw', () => {
  let dashboard: DashboardLogic;
  beforeAll(async () => {
    dashboard = (await import(dashboardPath)) as DashboardLogic;
  });
  const sample = (at: number, fields: Partial<FleetSample> = {}): FleetSample => ({
    at,
    devices: 10,
    counts: { Certified: 4, Onboarded: 6 },
    connected: 6,
    certified: 10,
    revoked: 0,
    telemetryMessages: 0,
    ...fields,
  });

  it('keeps one sample per instant in time order, the newest ones (a reconnect sends the kept ones again)', () => {
    const kept = [sample(1_000), sample(2_000)];
    const merged = dashboard.mergeSamples(kept, [sample(1_000), sample(2_000, { connected: 7 }), sample(3_000)]);
    expect(merged.map((s) => s.at)).toEqual([1_000, 2_000, 3_000]);
    expect(merged[1]!.connected).toBe(7);
    expect(dashboard.mergeSamples(merged, [sample(500)], 3).map((s) => s.at)).toEqual([1_000, 2_000, 3_000]);
  });

  it('draws the telemetry rate from the growth of the total, with a gap where the gateway restarted', () => {
    const samples = [
      sample(0, { telemetryMessages: 0 }),
      sample(1_000, { telemetryMessages: 250 }),
      sample(3_000, { telemetryMessages: 1_250 }),
      sample(4_000, { telemetryMessages: 10 }),
    ];
    expect(dashboard.telemetryRates(samples)).toEqual([null, 250, 500, null]);
    expect(dashboard.dashboardTiles(samples.slice(0, 3))).toEqual({
      devices: 10,
      connected: 6,
      telemetryRate: 500,
      certified: 10,
      revoked: 0,
    });
  });

  it('gives each chart its x (seconds) and series: the states in lifecycle order, certified and revoked together', () => {
    const series = dashboard.dashboardSeries([sample(1_000), sample(2_000, { revoked: 2, counts: { Revoked: 2 } })]);
    expect(series.states[0]).toEqual([1, 2]);
    expect(series.states).toHaveLength(1 + 7);
    expect(series.states[4]).toEqual([4, 0]); // Certified
    expect(series.states[7]).toEqual([0, 2]); // Revoked
    expect(series.connected).toEqual([
      [1, 2],
      [6, 6],
    ]);
    expect(series.lifecycle).toEqual([
      [1, 2],
      [10, 10],
      [0, 2],
    ]);
    expect(series.telemetry[1]).toEqual([null, 0]);
  });
});
