/** Slice: CertifyDevices on the in-memory event store, downlinks kept in memory. */
import { randomUUID } from 'node:crypto';
import { CrlPublished } from '@tunnelkey/contracts';
import { issuingAuthorityId } from '../authority/certificate-authority.js';
import { authorityStream } from '../deciders/authority.decider.js';
import { crlStream } from '../deciders/crl.decider.js';
import { CaCommandRejected } from '../errors.js';
import { caSlice, silent, type CaSlice } from '../test-support/ca-slice.test-helper.js';
import { CertifyDevicesHandler } from './certify-devices.handler.js';

describe('certify-devices slice (in-memory store)', () => {
  let ca: CaSlice;
  let handler: CertifyDevicesHandler;

  beforeEach(async () => {
    ca = await caSlice();
    handler = new CertifyDevicesHandler(ca.eligibility, ca.authority, ca.crls, ca.downlinks, silent);
  });
  afterEach(() => ca.stop());

  const csrRequests = () => ca.sent.filter((s) => s.envelope.kind === 'csr-request');

  it('asks every verified, unrevoked device of the batch for a CSR, once its issuing CA has a CRL', async () => {
    const verified = [await ca.device('b'), await ca.device('b')];
    await ca.device('b', { verified: false });
    const revoked = await ca.device('b');
    await ca.registry.revokeDevice(revoked.deviceId);
    const commandId = randomUUID();
    expect(await handler.handle({ commandId, scope: { kind: 'batch', batchId: 'b' } })).toEqual({ devices: 2 });
    expect(
      csrRequests()
        .map((s) => s.envelope.deviceId)
        .sort(),
    ).toEqual(verified.map((d) => d.deviceId).sort());
    expect(csrRequests().every((s) => (s.envelope.body as { keyId: string }).keyId === 'enrolment')).toBe(true);
    const authorityId = issuingAuthorityId('acme');
    expect((await ca.events(authorityStream(authorityId))).map((e) => e.type)).toEqual(['AuthorityCreated']);
    const crls = await ca.events(crlStream(authorityId));
    expect(crls.map((e) => CrlPublished.parse(e).data)).toEqual([
      expect.objectContaining({ crlNumber: 1, revokedCount: 0 }),
    ]);
  });

  it('asks for the same request ids when the command is retried, and publishes no second CRL', async () => {
    await ca.device('b');
    const command = { commandId: randomUUID(), scope: { kind: 'batch' as const, batchId: 'b' }, keyId: 'tls-1' };
    await handler.handle(command);
    await handler.handle(command);
    const [first, second] = csrRequests().map((s) => s.envelope.body as { requestId: string; keyId: string });
    expect(second).toEqual(first);
    expect(first?.keyId).toBe('tls-1');
    expect(await ca.events(crlStream(issuingAuthorityId('acme')))).toHaveLength(1);
  });

  it('refuses a single device that may not be certified, with the reason, and asks nobody', async () => {
    const unverified = await ca.device('b', { verified: false });
    const refusal = handler.handle({
      commandId: randomUUID(),
      scope: { kind: 'device', deviceId: unverified.deviceId },
    });
    await expect(refusal).rejects.toThrow(CaCommandRejected);
    await expect(refusal).rejects.toMatchObject({ reason: 'device-not-verified' });
    expect(csrRequests()).toEqual([]);
  });

  it('leaves out devices the registry does not know', async () => {
    const known = await ca.device('b');
    const result = await handler.handle({
      commandId: randomUUID(),
      scope: { kind: 'devices', deviceIds: [known.deviceId, 'd-unknown'] },
    });
    expect(result).toEqual({ devices: 1 });
    expect(csrRequests().map((s) => s.envelope.deviceId)).toEqual([known.deviceId]);
  });
});
