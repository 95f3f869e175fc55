import { decideUpdate } from '@tunnelkey/firmware';
import { RegisterFirmwareProductHandlerCase } from '../register-firmware/register-firmware.test-cases.js';
import { startOtaSlice } from '../test-support/ota-slice.test-helper.js';

const cases = new RegisterFirmwareProductHandlerCase();
afterEach(() => cases.close());

test('a new signing-key generation is delegated, the releases are signed again by it, and devices refuse the old keys after accepting the new delegation', async () => {
  await cases.start();
  await cases.release('2.0.0');
  const { store, images, platformKey } = cases.slice;
  const [firstSigned] = await cases.slice.events('FirmwareImageSigned');
  const [firstDelegation] = await cases.slice.events('FirmwareSigningKeyDelegated');
  await cases.slice.close();

  cases.slice = await startOtaSlice({ store, images, platformKey, config: { signingKeyGeneration: 2 } });
  const delegations = await cases.slice.events('FirmwareSigningKeyDelegated');
  expect(delegations.map((e) => (e.data as { keyId: string }).keyId)).toEqual(['ota-signing-1', 'ota-signing-2']);
  const signed = await cases.slice.events('FirmwareImageSigned');
  expect(
    signed.map((e) => [
      (e.data as { signingKeyId: string }).signingKeyId,
      (e.data as { metadataVersion: number }).metadataVersion,
    ]),
  ).toEqual([
    ['ota-signing-1', 1],
    ['ota-signing-2', 2],
  ]);
  const now = cases.slice.now();
  const device = {
    product: 'fridge-x200',
    installedVersion: '1.0.0',
    lastMetadataVersion: 0,
    platformKey: platformKey.publicKeySpki,
  };
  const documents = (delegation: { data: unknown }, targets: { data: unknown }) => ({
    delegation: (delegation.data as { delegation: string }).delegation,
    metadata: (targets.data as { targets: string }).targets,
  });
  const accepted = decideUpdate(device, documents(delegations[1]!, signed[1]!), now);
  expect(accepted.outcome).toBe('accepted');
  if (accepted.outcome !== 'accepted') return;
  // Having accepted generation 2's delegation, metadata signed by generation 1 is refused.
  const remembered = { ...device, delegation: accepted.delegation };
  expect(decideUpdate(remembered, documents(delegations[1]!, firstSigned!), now)).toMatchObject({
    outcome: 'refused',
    reason: 'signature',
  });
  expect(decideUpdate(remembered, documents(firstDelegation!, firstSigned!), now)).toMatchObject({
    outcome: 'refused',
    reason: 'stale',
  });
  // A restart on the same generation signs nothing again.
  const { store: s2, images: i2 } = cases.slice;
  await cases.slice.close();
  cases.slice = await startOtaSlice({ store: s2, images: i2, platformKey, config: { signingKeyGeneration: 2 } });
  expect(await cases.slice.events('FirmwareImageSigned')).toHaveLength(2);
});
