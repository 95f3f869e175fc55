import { CertificateRevoked, OwnershipTransferCompleted } from '@tunnelkey/contracts';
import { givenEvent, waitFor } from '@tunnelkey/testing';
import { OnboardDevicesHandler } from '../onboard-devices/onboard-devices.handler.js';
import { startOnboardingSlice, type OnboardingSlice } from '../test-support/onboarding-slice.test-helper.js';
import { CertificatesView } from '../views/certificates.view.js';

describe('ownership-transferred reaction slice (in-memory store and targets)', () => {
  let slice: OnboardingSlice;

  beforeEach(async () => {
    slice = await startOnboardingSlice();
    await slice.given.policy('p-1', ['broker-a', 'broker-b']);
    await slice.given.batch('b-1', 'p-1', ['d-1', 'd-2']);
    await slice.given.certified('d-1');
    await slice.given.certified('d-2');
    await slice.registerTarget('broker-a');
    await slice.registerTarget('broker-b');
    await (
      await slice.get(OnboardDevicesHandler).onboardBatch({ commandId: 'onboard-1', batchId: 'b-1' })
    ).done;
  });
  afterEach(() => slice.close());

  it("cuts a transferred device off every target of its old owner, once; the others stay; its certificate's transfer revocation does not revoke the device", async () => {
    const transfer = {
      deviceId: 'd-1',
      transferId: 't-1',
      ownerId: 'globex',
      fromOwnerId: 'acme',
      ownerEpoch: 1,
      batchId: 'globex-b',
    };
    await givenEvent(slice.store, OwnershipTransferCompleted, 'd-1', transfer);
    const recorded = await waitFor(
      async () => {
        const events = await slice.events('DeviceDeprovisioned');
        return events.length >= 2 ? events.map((e) => e.data) : undefined;
      },
      { timeoutMs: 5_000, description: 'd-1 deprovisioned from both targets' },
    );
    // The two targets are cut off independently: in either order.
    expect(recorded).toEqual(
      expect.arrayContaining(
        ['broker-a', 'broker-b'].map((targetId) => ({ deviceId: 'd-1', targetId, reason: 'ownership-transferred' })),
      ),
    );
    expect(recorded).toHaveLength(2);
    for (const targetId of ['broker-a', 'broker-b']) {
      expect(slice.targets.target(targetId).devices.get('d-1')?.enabled).toBe(false);
      expect(slice.targets.target(targetId).devices.get('d-2')?.enabled).toBe(true);
    }
    // The CA revokes the old owner's certificate as affiliationChanged: the device itself is not revoked.
    const certificates = slice.get(CertificatesView);
    await certificates.catchUp();
    const serialNumber = certificates.device('d-1')!.certificate!.serialNumber;
    await givenEvent(slice.store, CertificateRevoked, 'd-1', {
      deviceId: 'd-1',
      authorityId: 'issuing-acme',
      serialNumber,
      reason: 'affiliationChanged',
      revokedAt: new Date().toISOString(),
      revocationId: 't-1',
    });
    await certificates.catchUp();
    expect(certificates.device('d-1')?.revoked).toBe(false);
    expect(await slice.events('DeviceDeprovisioned')).toHaveLength(2);
  });
});
