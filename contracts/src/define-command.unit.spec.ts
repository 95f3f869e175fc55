import { TSchema, Type } from '@sinclair/typebox';
import { commandSubject, defineCommand, fail, httpStatusOf, kebabCase, ok } from './define-command.js';
import { ContractViolation, UnsafeSubjectToken } from './errors.js';
import {
  DefineServerPolicy,
  ImportIdentities,
  maxImportRows,
  RegisterTarget,
  RevokeBatch,
  RevokeDevice,
  VerifyIdentity,
} from './index.js';
import { Struct } from './primitives.js';

describe('defineCommand', () => {
  const Ping = defineCommand({
    name: 'PingDevice',
    service: 'registry',
    summary: 'test',
    payload: { deviceId: Type.String({ maxLength: 8 }) },
    result: Struct({ pong: Type.Boolean() }),
  });

  test('subject is cmd.<service>.<kebab-case name>, namespaced on request', () => {
    expect(Ping.command).toBe('ping-device');
    expect(Ping.subject()).toBe('cmd.registry.ping-device');
    expect(Ping.subject('t1')).toBe('t1.cmd.registry.ping-device');
    expect(DefineServerPolicy.subject()).toBe('cmd.registry.define-server-policy');
    expect(RevokeDevice.subject()).toBe('cmd.revocation.revoke-device');
    expect(kebabCase('ImportIdentities')).toBe('import-identities');
    expect(() => Ping.subject('a.b')).toThrow(UnsafeSubjectToken);
    expect(() => commandSubject('registry', 'x.>')).toThrow(UnsafeSubjectToken);
    expect(() => commandSubject('nope' as 'registry', 'x')).toThrow(UnsafeSubjectToken);
  });

  test('payload requires a client-chosen commandId and accepts correlation and actor', () => {
    expect(Ping.is({ commandId: 'c-1', deviceId: 'd' })).toBe(true);
    expect(Ping.is({ deviceId: 'd' })).toBe(false);
    expect(
      Ping.is({ commandId: 'c-1', deviceId: 'd', correlationId: 'x', actor: { kind: 'operator', id: 'alice' } }),
    ).toBe(true);
    expect(Ping.is({ commandId: 'c-1', deviceId: 'd', actor: { kind: 'root', id: 'alice' } })).toBe(false);
    expect(() => Ping.parse({ commandId: 'c-1', deviceId: 'd'.repeat(9) })).toThrow(
      /command PingDevice does not match its contract: \/deviceId/,
    );
  });

  test('replies: ok with the result, or an error with code and message', () => {
    expect(Ping.isReply(ok({ pong: true }))).toBe(true);
    expect(Ping.isReply(ok({ pong: 'yes' }))).toBe(false);
    expect(Ping.isReply(fail('NOT_FOUND', 'no such device'))).toBe(true);
    expect(Ping.isReply(fail('key-not-enrolled', 'the CSR key is not the enrolled key'))).toBe(true);
    expect(Ping.isReply(fail('CONTRACT_VIOLATION', 'bad', [{ path: '/deviceId', message: 'too long' }]))).toBe(true);
    expect(Ping.isReply({ ok: false, error: { code: 'bad code!', message: 'x' } })).toBe(false);
    expect(Ping.isReply({ ok: false, error: { code: 'X', message: 'x' }, result: {} })).toBe(false);
    expect(() => Ping.parseReply({ ok: true })).toThrow(ContractViolation);
  });

  test('refuses a name that is not PascalCase', () => {
    expect(() =>
      defineCommand({ name: 'ping', service: 'registry', summary: '', payload: {}, result: Type.Null() as TSchema }),
    ).toThrow(TypeError);
  });

  test('maps error codes to HTTP statuses once', () => {
    expect(httpStatusOf('CONTRACT_VIOLATION')).toBe(400);
    expect(httpStatusOf('NOT_FOUND')).toBe(404);
    expect(httpStatusOf('CONFLICT')).toBe(409);
    expect(httpStatusOf('FORBIDDEN')).toBe(403);
    expect(httpStatusOf('device-revoked')).toBe(422);
    expect(httpStatusOf('SOMETHING_ELSE')).toBe(500);
    expect(httpStatusOf('constructor')).toBe(422);
  });
});

describe('ImportIdentities', () => {
  const row = { deviceId: 'd-1', enrolmentPublicKey: '-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n' };
  const base = { commandId: 'c-1', batchId: 'b-1', importId: 'i-1' };

  test('takes JSON rows or CSV text', () => {
    expect(
      ImportIdentities.is({ ...base, source: { format: 'json', rows: [row, { ...row, metadata: { site: 'x' } }] } }),
    ).toBe(true);
    expect(
      ImportIdentities.is({ ...base, source: { format: 'csv', text: 'deviceId,enrolmentPublicKey\nd-1,MFkw' } }),
    ).toBe(true);
    expect(ImportIdentities.is({ ...base, source: { format: 'xml', text: '<x/>' } })).toBe(false);
    expect(ImportIdentities.is({ ...base, source: { format: 'json', rows: [] } })).toBe(false);
  });

  test('a malformed key or id is a row for the report, not a contract failure', () => {
    expect(
      ImportIdentities.is({
        ...base,
        source: { format: 'json', rows: [{ deviceId: 'bad id!', enrolmentPublicKey: 'garbage' }] },
      }),
    ).toBe(true);
    expect(ImportIdentities.is({ ...base, source: { format: 'json', rows: [{ ...row, extra: 1 }] } })).toBe(false);
    expect(
      ImportIdentities.is({
        ...base,
        source: { format: 'json', rows: [{ ...row, enrolmentPublicKey: 'A'.repeat(8193) }] },
      }),
    ).toBe(false);
  });

  test(`thousands of rows per call, at most ${maxImportRows}`, () => {
    const rows = Array.from({ length: maxImportRows }, (_, i) => ({ ...row, deviceId: `d-${i}` }));
    expect(ImportIdentities.is({ ...base, source: { format: 'json', rows } })).toBe(true);
    expect(ImportIdentities.is({ ...base, source: { format: 'json', rows: [...rows, row] } })).toBe(false);
  });

  test('answers with a per-row report', () => {
    const reply = ok({
      batchId: 'b-1',
      importId: 'i-1',
      accepted: 1,
      rejected: 2,
      rows: [
        { row: 1, deviceId: 'd-1', status: 'accepted' },
        { row: 2, status: 'rejected', reason: 'bad-device-id' },
        { row: 3, deviceId: 'd-3', status: 'rejected', reason: 'not-p256' },
      ],
    });
    expect(ImportIdentities.isReply(reply)).toBe(true);
    expect(
      ImportIdentities.isReply({
        ...reply,
        result: { ...(reply as { result: object }).result, rows: [{ row: 1, status: 'rejected', reason: 'because' }] },
      }),
    ).toBe(false);
  });
});

describe('other commands', () => {
  test('revocation reasons are RFC 5280 names', () => {
    expect(RevokeDevice.is({ commandId: 'c', deviceId: 'd-1', reason: 'keyCompromise' })).toBe(true);
    expect(RevokeBatch.is({ commandId: 'c', batchId: 'b-1', reason: 'cessationOfOperation' })).toBe(true);
    expect(RevokeDevice.is({ commandId: 'c', deviceId: 'd-1', reason: 'key-compromise' })).toBe(false);
    expect(RevokeDevice.is({ commandId: 'c', deviceId: 'd-1', reason: 'removeFromCRL' })).toBe(false);
  });

  test('bulk scopes: one device, a list, or a batch', () => {
    expect(VerifyIdentity.is({ commandId: 'c', scope: { kind: 'device', deviceId: 'd-1' } })).toBe(true);
    expect(VerifyIdentity.is({ commandId: 'c', scope: { kind: 'devices', deviceIds: ['d-1', 'd-2'] } })).toBe(true);
    expect(VerifyIdentity.is({ commandId: 'c', scope: { kind: 'batch', batchId: 'b-1' } })).toBe(true);
    expect(VerifyIdentity.is({ commandId: 'c', scope: { kind: 'batch', deviceId: 'd-1' } })).toBe(false);
  });

  test('RegisterTarget takes admin credentials, marked writeOnly', () => {
    const payload = {
      commandId: 'c',
      targetId: 'mosquitto-1',
      kind: 'mosquitto',
      name: 'Broker',
      host: '127.0.0.1',
      tlsPort: 8883,
      admin: { username: 'admin', password: 'p' },
    };
    expect(RegisterTarget.is(payload)).toBe(true);
    expect(RegisterTarget.is({ ...payload, host: 'mqtt://x' })).toBe(false);
    expect(RegisterTarget.is({ ...payload, tlsPort: 70000 })).toBe(false);
    expect(JSON.stringify(RegisterTarget.payloadSchema.properties.admin)).toContain('"writeOnly":true');
  });
});
