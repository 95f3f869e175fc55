/**
 * The transfer-revocations fold: a device is owed a revocation while a certificate of an epoch
 * below its owner epoch is not revoked, whatever order the registry's and the CA's events come in.
 */
import type { EventEnvelope } from '@tunnelkey/contracts';
import {
  foldTransferRevocations,
  initialTransferRevocationsState,
  type DeviceTransfer,
} from './transfer-revocations.view.js';

const envelope = (type: string, data: object): EventEnvelope =>
  ({ type, version: 1, correlationId: 'corr', data }) as unknown as EventEnvelope;
const transfer = (ownerEpoch: number, transferId = `t-${ownerEpoch}`) =>
  envelope('OwnershipTransferCompleted', { deviceId: 'd-1', transferId, ownerEpoch });
const issued = (serialNumber: string, keyId: string) =>
  envelope('CertificateIssued', { deviceId: 'd-1', serialNumber, keyId });
const revoked = (serialNumber: string) => envelope('CertificateRevoked', { deviceId: 'd-1', serialNumber });

function fold(events: EventEnvelope[]) {
  const state = initialTransferRevocationsState();
  const heard: DeviceTransfer[] = [];
  for (const event of events) foldTransferRevocations(state, event, (t) => heard.push(t));
  return { owed: [...state.owed], heard };
}

describe('transfer revocations: which devices still hold a certificate from before their transfer', () => {
  it('lists a device transferred with a certificate of an older epoch, in either order, once', () => {
    const expected = { deviceId: 'd-1', transferId: 't-1', ownerEpoch: 1, correlationId: 'corr' };
    for (const events of [
      [issued('aa', 'enrolment'), transfer(1)],
      [transfer(1), issued('aa', 'tls-0')],
    ]) {
      expect(fold(events)).toEqual({ owed: ['d-1'], heard: [expected] });
      expect(fold([...events, ...events]).heard).toHaveLength(1);
    }
  });

  it('takes it off once that certificate is revoked, and puts it back for another one of an older epoch', () => {
    expect(fold([issued('aa', 'tls-0'), transfer(1), revoked('aa')]).owed).toEqual([]);
    expect(fold([issued('aa', 'tls-0'), transfer(1), revoked('aa'), issued('bb', 'tls-0')]).heard).toHaveLength(2);
  });

  it('owes nothing for certificates of the current epoch, nor for a device never transferred', () => {
    expect(fold([transfer(1), issued('aa', 'tls-1-0')]).owed).toEqual([]);
    expect(fold([issued('aa', 'tls-0'), revoked('zz')]).owed).toEqual([]);
  });

  it('keeps the latest transfer: a later epoch owes the certificates of every earlier one', () => {
    const { owed, heard } = fold([issued('aa', 'tls-1-0'), transfer(2, 't-b'), transfer(1, 't-a')]);
    expect(owed).toEqual(['d-1']);
    expect(heard).toEqual([expect.objectContaining({ transferId: 't-b', ownerEpoch: 2 })]);
  });
});
