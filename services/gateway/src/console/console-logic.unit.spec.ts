/**
 * The console's browser logic (static/js/logic.js, plain JS with JSDoc): roles and enums read from
 * the gateway's own OpenAPI document, API errors in words, routes, progress, ids and file types.
 */
import { buildOpenApiDocument } from '../openapi/openapi-document.js';

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
