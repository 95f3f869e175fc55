import { createHash, generateKeyPairSync } from 'node:crypto';
import { batchStream, policyStream } from '../shared/registry-streams.js';
import { batchCreated, policyDefined, registrySlice, type RegistrySlice } from '../test-support/registry-slice.js';
import { RegisterManufacturerKeyHandler } from './register-manufacturer-key.handler.js';

describe('register-manufacturer-key (slice)', () => {
  let slice: RegistrySlice;
  let handler: RegisterManufacturerKeyHandler;
  const spki = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' });
  const publicKey = spki.toString('base64');
  beforeEach(async () => {
    slice = await registrySlice();
    handler = new RegisterManufacturerKeyHandler(slice.store, slice.requests, slice.clock, slice.logger);
    await slice.given(policyStream('fridges'), [policyDefined]);
    await slice.given(batchStream('no-file'), [batchCreated('no-file')]);
  });
  afterEach(() => slice.stop());

  it('records ManufacturerKeyRegistered once and the view knows the key', async () => {
    const command = { commandId: 'c-1', batchId: 'no-file', keyId: 'acme', publicKey };
    await expect(handler.handle(command)).resolves.toEqual({ batchId: 'no-file', keyId: 'acme' });
    await handler.handle({ ...command, commandId: 'c-2' });
    const keyDigest = createHash('sha256').update(spki).digest('hex');
    expect(await slice.written()).toEqual([
      {
        aggregateId: 'no-file',
        type: 'ManufacturerKeyRegistered',
        data: { batchId: 'no-file', keyId: 'acme', publicKey, keyDigest },
      },
    ]);
    expect(slice.requests.manufacturerKey('no-file', 'acme')).toEqual({ keyId: 'acme', publicKey, keyDigest });
  });

  it('refuses a key that is not P-256, an unknown batch, another key under a known id; writes nothing else', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'der', type: 'spki' });
    await expect(
      handler.handle({ commandId: 'c-1', batchId: 'no-file', keyId: 'acme', publicKey: rsa.toString('base64') }),
    ).rejects.toMatchObject({ reason: 'not-p256' });
    await expect(handler.handle({ commandId: 'c-2', batchId: 'nope', keyId: 'acme', publicKey })).rejects.toMatchObject(
      { reason: 'NOT_FOUND' },
    );
    expect(await slice.written()).toEqual([]);
    await handler.handle({ commandId: 'c-3', batchId: 'no-file', keyId: 'acme', publicKey });
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' });
    await expect(
      handler.handle({ commandId: 'c-4', batchId: 'no-file', keyId: 'acme', publicKey: other.toString('base64') }),
    ).rejects.toMatchObject({ reason: 'CONFLICT' });
    expect(await slice.written()).toHaveLength(1);
  });
});
