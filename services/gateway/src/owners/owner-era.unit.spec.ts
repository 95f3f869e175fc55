import type { HistoryEntry } from '../views/device-history.view.js';
import { entriesOfOwner, eraStartOf } from './owner-era.js';

let sequence = 0;
const entry = (
  context: HistoryEntry['context'],
  type: string,
  occurredAt: string,
  data: object = {},
): HistoryEntry => ({
  context,
  sequence: ++sequence,
  type,
  version: 1,
  id: `e-${sequence}`,
  occurredAt,
  correlationId: 'c',
  causationId: 'c',
  data: { deviceId: 'd-1', ...data },
});

const at = (minute: number) => `2026-03-01T12:${String(minute).padStart(2, '0')}:00.000Z`;
const targets: Record<string, string> = { 'acme-broker': 'acme', 'globex-broker': 'globex' };
const targetOwnerOf = (targetId: string) => targets[targetId];

const history = [
  entry('registry', 'DeviceIdentityImported', at(0), { batchId: 'acme-fridges' }),
  entry('ca', 'CertificateIssued', at(1)),
  entry('onboarding', 'DeviceOnboarded', at(2), { targetId: 'acme-broker' }),
  entry('onboarding', 'TelemetryReceived', at(3), { targetId: 'acme-broker' }),
  entry('registry', 'OwnershipTransferCompleted', at(4), { ownerId: 'globex', fromOwnerId: 'acme', ownerEpoch: 1 }),
  // After the transfer: the old owner's broker still reports (a disconnect), the CA revokes its certificate.
  entry('onboarding', 'DeviceDisconnected', at(5), { targetId: 'acme-broker' }),
  entry('ca', 'CertificateRevoked', at(5), { reason: 'affiliationChanged' }),
  entry('registry', 'IdentityVerified', at(6)),
  entry('onboarding', 'DeviceOnboarded', at(7), { targetId: 'globex-broker' }),
  entry('onboarding', 'TelemetryReceived', at(8), { targetId: 'globex-broker' }),
];
const types = (entries: HistoryEntry[]) => entries.map((e) => `${e.type}@${e.occurredAt.slice(14, 16)}`);

describe("an owner's era of a device (pure)", () => {
  it('the new owner sees the custody chain and its own era on its own targets, none of the old owner’s telemetry', () => {
    expect(eraStartOf(history, 'globex')).toBe(at(4));
    expect(types(entriesOfOwner(history, 'globex', targetOwnerOf))).toEqual([
      'OwnershipTransferCompleted@04',
      'CertificateRevoked@05',
      'IdentityVerified@06',
      'DeviceOnboarded@07',
      'TelemetryReceived@08',
    ]);
  });

  it('a first owner sees its era from the beginning, on its own targets only', () => {
    expect(eraStartOf(history, 'acme')).toBe('');
    const seen = types(entriesOfOwner(history, 'acme', targetOwnerOf));
    expect(seen).toContain('TelemetryReceived@03');
    expect(seen).not.toContain('TelemetryReceived@08');
    expect(seen).not.toContain('DeviceOnboarded@07');
  });

  it('a device never transferred shows all of its facts, on a target the directory does not know too', () => {
    const never = history
      .slice(0, 4)
      .concat(entry('onboarding', 'DeviceConnected', at(9), { targetId: 'unregistered' }));
    expect(entriesOfOwner(never, 'acme', targetOwnerOf)).toEqual(never);
  });

  it('an owner that got the device back sees its latest era only, and every transfer', () => {
    const back = [
      ...history,
      entry('registry', 'OwnershipTransferCompleted', at(9), { ownerId: 'acme', fromOwnerId: 'globex', ownerEpoch: 2 }),
      entry('registry', 'IdentityVerified', at(10)),
    ];
    expect(types(entriesOfOwner(back, 'acme', targetOwnerOf))).toEqual([
      'OwnershipTransferCompleted@04',
      'OwnershipTransferCompleted@09',
      'IdentityVerified@10',
    ]);
  });
});
