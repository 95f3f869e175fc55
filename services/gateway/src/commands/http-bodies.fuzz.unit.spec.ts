import type { INestApplication } from '@nestjs/common';
import 'reflect-metadata';
// Fuzzing of the HTTP bodies the gateway accepts on its command routes and of the CSV it splits
// for an import: whatever arrives, the answer is a 4xx and nothing reaches the bus, or the
// payload sent is one the command's contract accepts, with the actor of the token.
// `npm run fuzz` runs the same properties much longer (FUZZ_RUNS).
import fc from 'fast-check';
import { fuzz } from '@tunnelkey/testing';
import { pino } from 'pino';
import { TokenService } from '../auth/token-service.js';
import { InMemoryTokenStore } from '../auth/token-store.js';
import { commandRoutes, type CommandRouteName } from './command-routes.js';
import type { CommandPort } from './command-sender.js';
import { startCommandsApp } from './commands-app.test-helper.js';
import { BadRequest } from '../errors.js';
import { csvRecords, splitCsv } from './import-identities/split-import.js';

const logger = pino({ level: 'silent' });
const namespace = 'fuzz';
const adminToken = 'fuzz-test-admin-token-0123456789ab';

class CommandBusDouble implements CommandPort {
  readonly sent: { subject: string; payload: Record<string, unknown> }[] = [];
  async request<R>(subject: string, payload: unknown): Promise<R> {
    this.sent.push({ subject, payload: payload as Record<string, unknown> });
    return { ok: true } as R;
  }
}

const routeNames = (Object.keys(commandRoutes) as CommandRouteName[]).filter((name) => name !== 'ImportIdentities');
/** A valid body per route: mutated, it shows that what gets through is still what the contract accepts. */
const validBodies: Partial<Record<CommandRouteName, Record<string, unknown>>> = {
  CreateBatch: { batchId: 'b1', name: 'fridges', policyId: 'fridges', ownerId: 'acme', expectedSize: 10 },
  RequestEnrolmentKeys: { requestId: 'r1', ttlSeconds: 300 },
  VerifyIdentity: { scope: { kind: 'batch', batchId: 'b1' } },
  CertifyDevices: { scope: { kind: 'devices', deviceIds: ['d1', 'd2'] }, keyId: 'tls-0' },
  OnboardBatch: { targetIds: ['t1'] },
  OnboardDevice: {},
  RevokeDevice: { reason: 'keyCompromise' },
  RevokeBatch: { reason: 'superseded' },
  CreateIssuingAuthority: { ownerId: 'acme' },
};
const pathOf = (path: string, id: string) => path.replace(/\{[A-Za-z]+\}/g, encodeURIComponent(id));

describe('fuzzing HTTP bodies on the command routes', () => {
  const bus = new CommandBusDouble();
  const tokens = new TokenService({ store: new InMemoryTokenStore(), bootstrapAdminToken: adminToken, logger });
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    ({ app, url } = await startCommandsApp({ bus, tokens, logger, namespace: namespace, bodyLimit: '64kb' }));
  });
  afterAll(() => app?.close());

  /** A valid body of `name`'s route with one field replaced or one added. */
  const mutatedValid = (valid: Record<string, unknown>) =>
    fc.tuple(fc.string({ maxLength: 12 }), fc.jsonValue(), fc.boolean()).chain(([extraKey, value, replace]) => {
      const keys = Object.keys(valid);
      if (!replace || keys.length === 0) return fc.constant(JSON.stringify({ ...valid, [extraKey]: value }));
      return fc.constantFrom(...keys).map((key) => JSON.stringify({ ...valid, [key]: value }));
    });
  const arbitraryBody = fc.oneof(
    fc.jsonValue().map((v) => JSON.stringify(v)),
    fc.dictionary(fc.string({ maxLength: 20 }), fc.jsonValue(), { maxKeys: 8 }).map((v) => JSON.stringify(v)),
    fc.string({ maxLength: 300 }),
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1')),
  );
  const bodyFor = (name: CommandRouteName) => {
    const valid = validBodies[name];
    return valid ? fc.oneof(fc.constant(JSON.stringify(valid)), mutatedValid(valid), arbitraryBody) : arbitraryBody;
  };
  const routeAndBody = fc.constantFrom(...routeNames).chain((name) => fc.tuple(fc.constant(name), bodyFor(name)));
  const contentType = fc.constantFrom(
    'application/json',
    'text/plain',
    'application/x-www-form-urlencoded',
    'application/octet-stream',
    '',
  );

  let accepted = 0;
  it('every route answers 2xx with a contract-valid payload, or 4xx with nothing sent; never 5xx', async () => {
    await fuzz(
      'gateway: HTTP bodies on command routes',
      fc.asyncProperty(
        routeAndBody,
        fc.oneof(fc.constant('d-1'), fc.string({ minLength: 1, maxLength: 40 })),
        contentType,
        async ([name, raw], pathId, type) => {
          const route = commandRoutes[name];
          bus.sent.length = 0;
          const response = await fetch(`${url}${pathOf(route.path, pathId)}`, {
            method: 'POST',
            headers: { authorization: `Bearer ${adminToken}`, ...(type ? { 'content-type': type } : {}) },
            body: raw,
          });
          await response.arrayBuffer();
          expect(response.status).toBeLessThan(500);
          if (response.status >= 400) {
            expect(bus.sent).toHaveLength(0);
            return;
          }
          expect(bus.sent).toHaveLength(1);
          accepted++;
          const sent = bus.sent[0]!;
          expect(sent.subject).toBe(route.command.subject(namespace));
          expect(() => route.command.parse(sent.payload)).not.toThrow();
          expect(sent.payload.actor).toEqual({ kind: 'operator', id: 'bootstrap-admin' });
        },
      ),
      { inSuite: 150 },
    );
    // The property is only worth something if valid bodies got through too.
    expect(accepted).toBeGreaterThan(0);
  });

  it('without a token, every body is refused before it reaches the bus', async () => {
    await fuzz(
      'gateway: unauthenticated HTTP bodies',
      fc.asyncProperty(routeAndBody, async ([name, raw]) => {
        bus.sent.length = 0;
        const response = await fetch(`${url}${pathOf(commandRoutes[name].path, 'd-1')}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: raw,
        });
        await response.arrayBuffer();
        expect([400, 401, 413, 415]).toContain(response.status);
        expect(bus.sent).toHaveLength(0);
      }),
      { inSuite: 100 },
    );
  });
});

describe('fuzzing the import CSV splitter', () => {
  const csvText = fc
    .array(
      fc
        .array(fc.constantFrom('a', 'b', ',', '"', '\n', '\r\n', ' ', 'deviceId'), { maxLength: 30 })
        .map((parts) => parts.join('')),
      { maxLength: 12 },
    )
    .map((lines) => lines.join('\n'));

  it('any text is split into parts that re-read as the same records, each mapped to its line, or refused with a 400', async () => {
    await fuzz(
      'gateway: import CSV split',
      fc.property(csvText, fc.integer({ min: 1, max: 4 }), (text, size) => {
        let parts;
        try {
          parts = splitCsv(text, size, 4096);
        } catch (error) {
          if (error instanceof BadRequest) return;
          throw error;
        }
        const [header, ...records] = csvRecords(text);
        const byLine = new Map(records.map((record) => [record.line, record.text]));
        const reread: string[] = [];
        for (const part of parts) {
          if (part.source.format !== 'csv') throw new Error('a CSV import was split into a non-CSV part');
          const [partHeader, ...rows] = csvRecords(part.source.text);
          expect(partHeader!.text).toBe(header!.text);
          expect(rows.length).toBeGreaterThan(0);
          expect(rows.length).toBeLessThanOrEqual(size);
          for (const row of rows) {
            // The registry reports rows by the part's line: mapped back, it is the same record of the file.
            expect(byLine.get(part.originalRow(row.line))).toBe(row.text);
            reread.push(row.text);
          }
        }
        expect(reread).toEqual(records.map((record) => record.text));
      }),
    );
  });
});
