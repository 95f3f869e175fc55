import {
  CertificateRevoked,
  DeviceDeprovisioned,
  DeviceOnboarded,
  OwnershipTransferCompleted,
  type EventEnvelope,
} from '@tunnelkey/contracts';
import { givenEvent, waitFor } from '@tunnelkey/testing';
import { startOnboardingSlice, type OnboardingSlice } from '../test-support/onboarding-slice.test-helper.js';
import { CertificatesView } from '../views/certificates.view.js';
import {
  foldTransferDeprovisionings,
  initialTransferDeprovisioningsState,
  owedTargets,
} from '../views/transfer-deprovisionings.view.js';

describe('transfer deprovisionings: view + job slice (in-memory store and targets)', () => {
  let slice: OnboardingSlice;

  beforeEach(async () => {
    slice = await startOnboardingSlice();
    await slice.onboardedBatch({ targetIds: ['broker-a', 'broker-b'], deviceIds: ['d-1', 'd-2'] });
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

describe('transfer deprovisionings view (fold)', () => {
  const event = (type: string, data: object, id = type) => ({ id, type, data }) as unknown as EventEnvelope;
  const transfer = event(
    OwnershipTransferCompleted.type,
    { deviceId: 'd-1', transferId: 't-1', batchId: 'new-b' },
    'e-t',
  );
  const onboarded = (targetId: string, batchId: string) =>
    event(DeviceOnboarded.type, { deviceId: 'd-1', targetId, batchId });
  const deprovisioned = (targetId: string) => event(DeviceDeprovisioned.type, { deviceId: 'd-1', targetId });
  const fold = (...events: EventEnvelope[]) => {
    const state = initialTransferDeprovisioningsState();
    const owed: string[] = [];
    for (const e of events) foldTransferDeprovisionings(state, e, (t) => owed.push(t.transferId));
    return { state, owed };
  };

  it("lists the old owner's targets whatever order the two logs arrive in, and hears of it once", () => {
    for (const events of [
      [onboarded('a', 'old-b'), onboarded('b', 'old-b'), transfer],
      [transfer, onboarded('a', 'old-b'), onboarded('b', 'old-b')],
    ]) {
      const { state, owed } = fold(...events);
      expect(owedTargets(state, 'd-1')).toEqual(['a', 'b']);
      expect(owed).toEqual(['t-1']);
    }
  });

  it('a target that cut the device, or where the new owner onboarded it, is owed nothing; a device never transferred neither', () => {
    const { state } = fold(
      onboarded('a', 'old-b'),
      onboarded('b', 'old-b'),
      transfer,
      deprovisioned('a'),
      onboarded('b', 'new-b'),
    );
    expect(owedTargets(state, 'd-1')).toEqual([]);
    expect(state.owed.size).toBe(0);
    expect(owedTargets(fold(onboarded('a', 'old-b')).state, 'd-1')).toEqual([]);
  });
});
