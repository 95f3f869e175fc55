import type { CustodyRole, CustodyStatement } from '@tunnelkey/contracts';
import { signCustodyStatement } from '@tunnelkey/device-protocol';
import { custodySigner, type CustodySigner } from '@tunnelkey/testing';
import { identityFromPublicKey } from '@tunnelkey/puf';
import { RegisterOwnerKeyHandler } from '../register-owner-key/register-owner-key.handler.js';
import { batchStream, deviceStream, policyStream } from '../shared/registry-streams.js';
import { policyDefined, registrySlice, type GivenEvent, type RegistrySlice } from '../test-support/registry-slice.js';
import { TransferOwnershipHandler } from './transfer-ownership.handler.js';

type Signer = CustodySigner;
const signer = custodySigner;

/** A device of owner `acme`'s batch, with its enrolment key (the device's PUF-derived key, in the real one). */
async function device(): Promise<Signer & { deviceId: string }> {
  const key = await signer();
  return { ...key, deviceId: identityFromPublicKey(Buffer.from(key.publicKey, 'base64')) };
}

const batch = (batchId: string, ownerId: string): GivenEvent => ({
  type: 'BatchCreated',
  data: { batchId, name: batchId, policyId: 'fridges', ownerId, expectedSize: 100 },
});

const imported = (d: { deviceId: string; publicKey: string; keyDigest: string }, batchId: string): GivenEvent => ({
  type: 'DeviceIdentityImported',
  data: {
    deviceId: d.deviceId,
    batchId,
    importId: 'file-0',
    source: 'json',
    enrolmentPublicKey: d.publicKey,
    enrolmentKeyDigest: d.keyDigest,
  },
});

describe('transfer-ownership (slice)', () => {
  let slice: RegistrySlice;
  let handler: TransferOwnershipHandler;
  let acmeKey: Signer;
  let globexKey: Signer;
  let fridge: Awaited<ReturnType<typeof device>>;
  const transfer = { transferId: 't-1', fromOwnerId: 'acme', toOwnerId: 'globex', toBatchId: 'globex-fridges' };

  /** What the three parties sign for `d` (epoch 1: its first transfer). */
  const statementOf = (d: { deviceId: string; keyDigest: string }, overrides: Partial<CustodyStatement> = {}) => ({
    ...transfer,
    deviceId: d.deviceId,
    enrolmentKeyDigest: d.keyDigest,
    ownerEpoch: 1,
    ...overrides,
  });

  /** A custody record; `by` replaces a party's key (a wrong signer), `statement` what it signs. */
  async function custodyOf(
    d: Signer & { deviceId: string },
    options: { by?: Partial<Record<CustodyRole, Signer>>; statement?: Partial<CustodyStatement> } = {},
  ) {
    const statement = statementOf(d, options.statement);
    const parties: Record<CustodyRole, Signer> = {
      authorisation: acmeKey,
      acceptance: globexKey,
      acknowledgement: d,
      ...options.by,
    };
    const sign = async (role: CustodyRole) => ({
      keyDigest: parties[role].keyDigest,
      signature: await signCustodyStatement(role, statement, parties[role].privateKey),
    });
    return {
      authorisation: await sign('authorisation'),
      acceptance: await sign('acceptance'),
      acknowledgement: await sign('acknowledgement'),
    };
  }

  beforeEach(async () => {
    slice = await registrySlice();
    handler = new TransferOwnershipHandler(slice.store, slice.deviceStates, slice.devices, slice.clock, slice.logger);
    const keys = new RegisterOwnerKeyHandler(slice.store, slice.clock, slice.logger);
    [acmeKey, globexKey, fridge] = await Promise.all([signer(), signer(), device()]);
    await keys.handle({ commandId: 'k-1', ownerId: 'acme', keyId: 'ops', publicKey: acmeKey.publicKey });
    await keys.handle({ commandId: 'k-2', ownerId: 'globex', keyId: 'ops', publicKey: globexKey.publicKey });
    await slice.given(policyStream('fridges'), [policyDefined]);
    await slice.given(batchStream('acme-fridges'), [batch('acme-fridges', 'acme')]);
    await slice.given(batchStream('globex-fridges'), [batch('globex-fridges', 'globex')]);
    await slice.given(deviceStream(fridge.deviceId), [imported(fridge, 'acme-fridges')]);
  });
  afterEach(() => slice.stop());

  it("appends the custody record to the device's history: epoch 1, in the new owner's batch; a retry moves nothing twice", async () => {
    const custody = await custodyOf(fridge);
    const command = { commandId: 'c-1', ...transfer, devices: [{ deviceId: fridge.deviceId, custody }] };
    await expect(handler.handle(command)).resolves.toEqual({
      transferId: 't-1',
      transferred: 1,
      alreadyTransferred: 0,
    });
    expect(await slice.written()).toEqual([
      {
        aggregateId: fridge.deviceId,
        type: 'OwnershipTransferCompleted',
        data: {
          deviceId: fridge.deviceId,
          transferId: 't-1',
          ownerId: 'globex',
          fromOwnerId: 'acme',
          ownerEpoch: 1,
          batchId: 'globex-fridges',
          custody,
        },
      },
    ]);
    const state = slice.devices.deviceState(fridge.deviceId);
    expect(state).toMatchObject({
      status: 'Transferred',
      ownerEpoch: 1,
      membership: { batchId: 'globex-fridges' },
      custodyChain: [{ transferId: 't-1', fromOwnerId: 'acme', toOwnerId: 'globex', ownerEpoch: 1, custody }],
    });
    expect(slice.devices.batchMembers('globex-fridges').has(fridge.deviceId)).toBe(true);
    expect(slice.devices.batchMembers('acme-fridges').has(fridge.deviceId)).toBe(false);
    // The same transfer again (another command id): recorded already.
    await expect(handler.handle({ ...command, commandId: 'c-2' })).resolves.toEqual({
      transferId: 't-1',
      transferred: 0,
      alreadyTransferred: 1,
    });
    expect(await slice.written()).toHaveLength(1);
  });

  it('moves a second time to the next epoch, signed for that epoch; the chain keeps both records', async () => {
    const first = await custodyOf(fridge);
    await handler.handle({ commandId: 'c-1', ...transfer, devices: [{ deviceId: fridge.deviceId, custody: first }] });
    await slice.given(batchStream('acme-again'), [batch('acme-again', 'acme')]);
    const back = { transferId: 't-2', fromOwnerId: 'globex', toOwnerId: 'acme', toBatchId: 'acme-again' };
    const statement = { ...back, ownerEpoch: 2 };
    const custody = await custodyOf(fridge, {
      by: { authorisation: globexKey, acceptance: acmeKey },
      statement,
    });
    await expect(
      handler.handle({ commandId: 'c-2', ...back, devices: [{ deviceId: fridge.deviceId, custody }] }),
    ).resolves.toMatchObject({ transferred: 1 });
    expect(slice.devices.deviceState(fridge.deviceId)).toMatchObject({
      ownerEpoch: 2,
      custodyChain: [{ transferId: 't-1' }, { transferId: 't-2', fromOwnerId: 'globex', toOwnerId: 'acme' }],
    });
  });

  describe('refuses, with a clear reason, and writes nothing', () => {
    const refusal = async (payload: object, expected: object) => {
      await expect(handler.handle({ commandId: 'c-x', ...payload })).rejects.toMatchObject(expected);
      expect(await slice.written()).toEqual([]);
    };
    const one = async (options: Parameters<typeof custodyOf>[1] = {}, overrides: object = {}) => ({
      ...transfer,
      devices: [{ deviceId: fridge.deviceId, custody: await custodyOf(fridge, options) }],
      ...overrides,
    });

    it('a transfer to the same owner', async () =>
      refusal(await one({ statement: { toOwnerId: 'acme' } }, { toOwnerId: 'acme' }), { reason: 'same-owner' }));

    it("a transfer without the old owner's authorisation", async () => {
      const payload = await one();
      const { authorisation: _dropped, ...unsigned } = payload.devices[0]!.custody;
      await refusal(
        { ...payload, devices: [{ deviceId: fridge.deviceId, custody: unsigned }] },
        {
          code: 'CONTRACT_VIOLATION',
          message: expect.stringContaining('/devices/0/custody/authorisation') as unknown,
        },
      );
    });

    it("an authorisation signed by the new owner's key instead of the old owner's", async () =>
      refusal(await one({ by: { authorisation: globexKey } }), { reason: 'authorisation-not-by-old-owner' }));

    it('an acceptance signed by a key no owner registered', async () =>
      refusal(await one({ by: { acceptance: await signer() } }), { reason: 'acceptance-not-by-new-owner' }));

    it("an acknowledgement signed by another device's key", async () =>
      refusal(await one({ by: { acknowledgement: await device() } }), { reason: 'acknowledgement-not-by-device' }));

    it('a custody record signed over other facts (another epoch): the signatures do not verify', async () =>
      refusal(await one({ statement: { ownerEpoch: 2 } }), { reason: 'bad-custody-signature' }));

    it('a record whose authorisation signature was forged (the right key digest, not its signature)', async () => {
      const payload = await one();
      const forged = await custodyOf(fridge, { by: { authorisation: await signer() } });
      const custody = {
        ...payload.devices[0]!.custody,
        authorisation: { keyDigest: acmeKey.keyDigest, signature: forged.authorisation.signature },
      };
      await refusal(
        { ...payload, devices: [{ deviceId: fridge.deviceId, custody }] },
        {
          reason: 'bad-custody-signature',
          context: { role: 'authorisation' },
        },
      );
    });

    it("a device of another owner (the caller names the device's owner wrongly)", async () => {
      await slice.given(batchStream('initech-fridges'), [batch('initech-fridges', 'initech')]);
      const other = await device();
      await slice.given(deviceStream(other.deviceId), [imported(other, 'initech-fridges')]);
      await refusal(
        { ...transfer, devices: [{ deviceId: other.deviceId, custody: await custodyOf(other) }] },
        {
          reason: 'device-of-other-owner',
        },
      );
    });

    it('a revoked device', async () => {
      await slice.given(deviceStream(fridge.deviceId), [
        {
          type: 'DeviceRevoked',
          data: {
            deviceId: fridge.deviceId,
            revocationId: 'rv-1',
            reason: 'keyCompromise',
            revokedAt: '2026-03-01T12:00:00.000Z',
          },
        },
      ]);
      await refusal(await one(), { reason: 'device-revoked' });
    });

    it('an unknown device', async () => {
      const stranger = await device();
      await refusal(
        { ...transfer, devices: [{ deviceId: stranger.deviceId, custody: await custodyOf(stranger) }] },
        {
          reason: 'NOT_FOUND',
        },
      );
    });

    it("a batch that is not the new owner's", async () =>
      refusal(await one({ statement: { toBatchId: 'acme-fridges' } }, { toBatchId: 'acme-fridges' }), {
        reason: 'batch-of-other-owner',
      }));

    it('a batch of 3 devices with one bad record: none of them moves', async () => {
      const more = await Promise.all([device(), device()]);
      for (const d of more) await slice.given(deviceStream(d.deviceId), [imported(d, 'acme-fridges')]);
      const devices = [
        { deviceId: fridge.deviceId, custody: await custodyOf(fridge) },
        { deviceId: more[0]!.deviceId, custody: await custodyOf(more[0]!) },
        { deviceId: more[1]!.deviceId, custody: await custodyOf(more[1]!, { by: { acknowledgement: more[0]! } }) },
      ];
      await refusal({ ...transfer, devices }, { reason: 'acknowledgement-not-by-device' });
    });
  });
});
