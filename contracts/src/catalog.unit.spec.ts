import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Kind, type TSchema } from '@sinclair/typebox';
import {
  eventDefinitions,
  findEventDefinition,
  latestEventDefinition,
  publicEventDefinitions,
  validateEvent,
} from './catalog.js';
import { commandDefinitions, findCommandDefinition } from './commands/catalog.js';
import { aggregatesByContext, boundedContexts } from './contexts.js';
import { deviceMessageDefinitions } from './device/catalog.js';
import { ContractViolation } from './errors.js';
import { sampleValue, stringPaths, withValueAt } from './sample-values.js';
import { upcasters } from './upcasting.js';

const meta = {
  id: '123e4567-e89b-12d3-a456-426614174000',
  aggregateId: 'd-7f3a',
  occurredAt: '2025-01-02T03:04:05.000Z',
  causationId: 'cmd-1',
  correlationId: 'corr-1',
};

/** Every schema a contract exposes: events' envelopes, commands' payloads and replies, device envelopes. */
const allSchemas: { label: string; schema: TSchema }[] = [
  ...eventDefinitions.map((d) => ({ label: `event ${d.type} v${d.version}`, schema: d.schema })),
  ...commandDefinitions.flatMap((d) => [
    { label: `command ${d.name}`, schema: d.payloadSchema as TSchema },
    { label: `reply ${d.name}`, schema: d.replySchema },
  ]),
  ...deviceMessageDefinitions.map((d) => ({ label: `device ${d.direction} ${d.kind}`, schema: d.schema })),
];

/** Walks a schema and reports every place that is open or unbounded. */
function looseSpots(schema: TSchema, path = ''): string[] {
  const s = schema as unknown as Record<string | symbol, unknown>;
  switch (s[Kind]) {
    case 'Object':
      return [
        ...(s['additionalProperties'] === false ? [] : [`${path} object allows extra properties`]),
        ...Object.entries(s['properties'] as Record<string, TSchema>).flatMap(([k, v]) =>
          looseSpots(v, `${path}/${k}`),
        ),
      ];
    case 'Union':
      return (s['anyOf'] as TSchema[]).flatMap((v, i) => looseSpots(v, `${path}|${i}`));
    case 'Array':
      return [
        ...(typeof s['maxItems'] === 'number' ? [] : [`${path} array without maxItems`]),
        ...looseSpots(s['items'] as TSchema, `${path}/*`),
      ];
    case 'Record':
      return typeof s['maxProperties'] === 'number' && s['additionalProperties'] === false
        ? []
        : [`${path} record unbounded`];
    case 'String': {
      if ('const' in s || typeof s['maxLength'] === 'number') return [];
      const pattern =
        typeof s['pattern'] === 'string' ? s['pattern'].replace(/\\./g, '').replace(/\[[^\]]*\]/g, '') : undefined;
      return pattern !== undefined && !/[+*]|\{\d+,\}/.test(pattern) ? [] : [`${path} string unbounded`];
    }
    case 'Integer':
    case 'Number':
      return typeof s['minimum'] === 'number' && typeof s['maximum'] === 'number' ? [] : [`${path} number unbounded`];
    case 'Literal':
    case 'Boolean':
      return [];
    default:
      return [`${path} unexpected schema kind ${String(s[Kind])}`];
  }
}

describe('the catalogs', () => {
  test('list every events file under events/', () => {
    const dir = fileURLToPath(new URL('./events/', import.meta.url));
    const files = readdirSync(dir).filter((f) => /\.events\.ts$|\.v\d+\.ts$/.test(f));
    const contextsWithEvents = new Set(eventDefinitions.map((d) => d.context));
    for (const context of boundedContexts) {
      expect(files).toContain(`${context}.events.ts`);
      expect(contextsWithEvents).toContain(context);
    }
    // each *.vN.ts file contributes an old version that is listed
    for (const file of files.filter((f) => /\.v\d+\.ts$/.test(f))) {
      const version = Number(/\.v(\d+)\.ts$/.exec(file)![1]);
      expect(
        eventDefinitions.some((d) => d.version === version && latestEventDefinition(d.type)!.version > version),
      ).toBe(true);
    }
  });

  test('hold the events the platform needs, each once per version', () => {
    const types = new Set(eventDefinitions.map((d) => d.type));
    for (const type of [
      'ServerPolicyDefined',
      'BatchCreated',
      'IdentitiesImported',
      'DeviceIdentityImported',
      'IdentityVerified',
      'IdentityVerificationFailed',
      'EnrolmentKeysRequested',
      'EnrolmentKeyReported',
      'CertificateRequested',
      'CertificateIssued',
      'CertificateRejected',
      'CertificateRevoked',
      'CrlPublished',
      'AuthorityCreated',
      'DeviceOnboarded',
      'DeviceConnected',
      'DeviceDisconnected',
      'TelemetryReceived',
      'FirmwareImageRegistered',
      'FirmwareImageSigned',
      'RolloutStarted',
      'RolloutPaused',
      'RolloutCompleted',
      'DeviceUpdateOffered',
      'DeviceUpdateApplied',
      'DeviceUpdateFailed',
      'IntegrityAlertRaised',
      'OwnershipTransferRequested',
      'OwnershipTransferCompleted',
      'DeviceRevoked',
    ]) {
      expect(types).toContain(type);
    }
    const keys = eventDefinitions.map((d) => `${d.type}@${d.version}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  test.each(eventDefinitions.map((d) => [`${d.type} v${d.version}`, d] as const))(
    '%s: past-tense PascalCase, known aggregate, summary',
    (_, d) => {
      expect(d.type).toMatch(/^(?:[A-Z][a-z0-9]+)+$/);
      expect(d.type).toMatch(/(ed|Sent|Taken|Made|Built|Received)$/);
      expect(d.version).toBeGreaterThanOrEqual(1);
      expect(aggregatesByContext[d.context] as readonly string[]).toContain(d.aggregate);
      expect(d.summary.length).toBeGreaterThan(10);
      expect(d.summary).not.toMatch(/\n/);
    },
  );

  test('every old version has an upcaster to the next', () => {
    for (const d of eventDefinitions) {
      if (d.version < latestEventDefinition(d.type)!.version) {
        expect(upcasters.some((u) => u.type === d.type && u.from === d.version)).toBe(true);
      }
    }
  });

  test('public events are the device lifecycle: many, and every version of a public type is public', () => {
    expect(publicEventDefinitions.length).toBeGreaterThan(30);
    for (const d of eventDefinitions) {
      const others = eventDefinitions.filter((o) => o.type === d.type);
      expect(new Set(others.map((o) => o.public === true)).size).toBe(1);
    }
  });

  test('commands have unique names and subjects cmd.<service>.<kebab-name>', () => {
    expect(commandDefinitions.map((c) => c.name)).toEqual(
      expect.arrayContaining([
        'DefineServerPolicy',
        'CreateBatch',
        'ImportIdentities',
        'RequestEnrolmentKeys',
        'VerifyIdentity',
        'RegisterTarget',
        'OnboardBatch',
        'OnboardDevice',
        'RevokeDevice',
        'RevokeBatch',
        'RegisterFirmware',
        'StartRollout',
        'TransferOwnership',
      ]),
    );
    for (const c of commandDefinitions) {
      expect(c.subject()).toMatch(/^cmd\.(registry|ca|onboarding|ota|revocation)\.[a-z][a-z0-9-]*$/);
      expect(findCommandDefinition(c.name)).toBe(c);
      expect(findCommandDefinition(c.subject())).toBe(c);
    }
  });
});

describe('every contract schema', () => {
  test.each(allSchemas.map((s) => [s.label, s.schema] as const))('%s is closed and bounded', (_, schema) => {
    // The one deliberate opening: error details items may carry context fields beyond path/message.
    const openOnPurpose = '|1/error/details/* object allows extra properties';
    expect(looseSpots(schema).filter((spot) => spot !== openOnPurpose)).toEqual([]);
  });

  test('no event carries a secret-looking field', () => {
    const secretish = /private|secret|password|passphrase|seed|kek|token|helper/i;
    for (const d of eventDefinitions) {
      const names = JSON.stringify(d.schema).match(/"([A-Za-z]+)":/g) ?? [];
      expect(names.filter((n) => secretish.test(n))).toEqual([]);
    }
  });

  test('only RegisterTarget carries a secret, marked writeOnly', () => {
    const carriers = commandDefinitions.filter((c) => JSON.stringify(c.payloadSchema).includes('"writeOnly":true'));
    expect(carriers.map((c) => c.name)).toEqual(['RegisterTarget']);
  });
});

describe('every event definition', () => {
  test.each(eventDefinitions.map((d) => [`${d.type} v${d.version}`, d] as const))(
    '%s accepts a full payload and refuses broken ones',
    (_, d) => {
      const data = sampleValue(d.data);
      const event = { type: d.type, version: d.version, ...meta, data };
      expect(d.parse(event)).toBe(event);
      expect(validateEvent(event)).toBe(event);
      expect(findEventDefinition(d.type, d.version)).toBe(d);

      expect(d.is({ ...event, data: { ...(data as object), unexpected: 1 } })).toBe(false);
      expect(d.is({ ...event, extra: 1 })).toBe(false);
      expect(d.is({ ...event, version: d.version + 100 })).toBe(false);
      expect(d.is({ ...event, aggregateId: 'a.b' })).toBe(false);
      expect(d.is({ ...event, occurredAt: '2025-02-30T00:00:00Z' })).toBe(false);
      expect(d.is({ ...event, id: 'not-a-uuid' })).toBe(false);
      // every string in the payload is bounded: one far too long is refused where it is
      for (const { path } of stringPaths(d.data)) {
        expect(d.is({ ...event, data: withValueAt(data, path, 'A'.repeat(70_000)) })).toBe(false);
      }
    },
  );

  test('create builds a valid envelope of its type and version', () => {
    const d = eventDefinitions[0]!;
    const event = d.create({ ...meta, data: sampleValue(d.data) as never });
    expect(event).toMatchObject({ type: d.type, version: d.version });
    expect(() => d.create({ ...meta, data: {} as never })).toThrow(ContractViolation);
  });
});

describe('every command definition', () => {
  test.each(commandDefinitions.map((c) => [c.name, c] as const))(
    '%s accepts a full payload, refuses extras, guards its reply',
    (_, c) => {
      const payload = sampleValue(c.payloadSchema as TSchema) as Record<string, unknown>;
      expect(c.parse(payload)).toBe(payload);
      expect(c.is({ ...payload, extra: true })).toBe(false);
      const { commandId: _commandId, ...withoutId } = payload;
      expect(c.is(withoutId)).toBe(false);
      expect(c.is({ ...payload, commandId: 'has space' })).toBe(false);

      const result = sampleValue(c.resultSchema);
      expect(c.isReply({ ok: true, result })).toBe(true);
      expect(c.isReply({ ok: false, error: { code: 'NOT_FOUND', message: 'no such batch' } })).toBe(true);
      expect(c.isReply({ ok: true, error: { code: 'NOT_FOUND', message: 'x' } })).toBe(false);
      expect(c.isReply({ ok: false, result })).toBe(false);
    },
  );
});

describe('every device message definition', () => {
  test.each(deviceMessageDefinitions.map((m) => [`${m.direction} ${m.kind}`, m] as const))(
    '%s accepts a full envelope and refuses broken ones',
    (_, m) => {
      const envelope = {
        version: 1,
        deviceId: 'd-7f3a',
        kind: m.kind,
        counter: 7,
        nonce: 'AAAAAAAAAAAAAAAAAAAAAAAA',
        sentAt: '2025-01-02T03:04:05.000Z',
        keyId: m.direction === 'uplink' ? 'enrolment' : 'platform-1',
        body: sampleValue(m.body),
        signature: `${'A'.repeat(86)}==`,
      };
      expect(m.parse(envelope)).toBe(envelope);
      expect(m.is({ ...envelope, body: { ...(envelope.body as object), extra: 1 } })).toBe(false);
      expect(m.is({ ...envelope, counter: -1 })).toBe(false);
      expect(m.is({ ...envelope, counter: 1.5 })).toBe(false);
      expect(m.is({ ...envelope, signature: 'AAAA' })).toBe(false);
      expect(m.is({ ...envelope, keyId: m.direction === 'uplink' ? 'platform-1' : 'enrolment' })).toBe(false);
      const { signature: _signature, ...unsigned } = envelope;
      expect(m.is(unsigned)).toBe(false);
      for (const { path } of stringPaths(m.body)) {
        expect(m.is({ ...envelope, body: withValueAt(envelope.body, path, 'A'.repeat(70_000)) })).toBe(false);
      }
    },
  );
});
