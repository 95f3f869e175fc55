/**
 * Query: which devices still hold a certificate from before their ownership transfer? A device is
 * owed a transfer revocation while its last OwnershipTransferCompleted (registry) moved it to an
 * owner epoch above the key epoch of one of its certificates that is not revoked (CA). Folded from
 * both logs in a LiveView (checkpointed), whatever order the two streams arrive in: the answer
 * depends on the state reached, not on the path. The transfer-revocations job revokes what this
 * lists until it lists nothing; the CertificateRevoked events it records take the device off.
 *
 * Why a view and not a durable reaction to OwnershipTransferCompleted: that event shares the
 * device's subject with every provisioning event (NATS 2.9 filters by subject only), so a durable
 * received, decoded and acknowledged four events per provisioned device to find a transfer, one
 * round trip to the bus each: a third of the platform's CPU per device in `npm run bench:provision`.
 * The sources here are the whole `registry` and `ca` streams, which the CA's other views follow
 * already: the store shares one consumer and one decode per filter, so this costs a map update.
 */
import {
  CertificateIssued,
  CertificateRevoked,
  OwnershipTransferCompleted,
  parseTlsKeyId,
  type DataOf,
  type EventEnvelope,
} from '@tunnelkey/contracts';
import type { EventStore } from '@tunnelkey/eventstore';
import { TransferWorkView, updateOwed, type OwedListener, type TransferWorkState } from '@tunnelkey/messaging';
import type { Logger } from 'pino';

/** A device's last transfer: what a revocation for it names. */
export interface DeviceTransfer {
  deviceId: string;
  transferId: string;
  ownerEpoch: number;
  correlationId: string;
}

/** `owed`: the devices with a certificate of an epoch below their owner epoch. */
export interface TransferRevocationsState extends TransferWorkState<DeviceTransfer> {
  /** Each device's certificates not revoked: serial -> key epoch (`tls-<epoch>-<n>`; the enrolment key and `tls-<n>` are epoch 0). */
  certificates: Map<string, Map<string, number>>;
}

type Data<E> = DataOf<E>;

export const initialTransferRevocationsState = (): TransferRevocationsState => ({
  transfers: new Map(),
  certificates: new Map(),
  owed: new Set(),
});

/** Whether the device holds a certificate its last transfer must revoke. */
function owes(state: TransferRevocationsState, deviceId: string): boolean {
  const transfer = state.transfers.get(deviceId);
  if (!transfer) return false;
  for (const epoch of state.certificates.get(deviceId)?.values() ?? []) if (epoch < transfer.ownerEpoch) return true;
  return false;
}

/**
 * Folds one registry or CA event (in place); `becameOwed` hears of a device that owes a revocation
 * now and did not before. The store has validated each event against its contract already.
 */
export function foldTransferRevocations(
  state: TransferRevocationsState,
  event: EventEnvelope,
  becameOwed: OwedListener<DeviceTransfer> = () => undefined,
): void {
  let deviceId: string;
  switch (event.type) {
    case OwnershipTransferCompleted.type: {
      const d = event.data as Data<typeof OwnershipTransferCompleted>;
      deviceId = d.deviceId;
      const known = state.transfers.get(deviceId);
      if (known && known.ownerEpoch >= d.ownerEpoch) return;
      state.transfers.set(deviceId, {
        deviceId,
        transferId: d.transferId,
        ownerEpoch: d.ownerEpoch,
        correlationId: event.correlationId,
      });
      break;
    }
    case CertificateIssued.type: {
      const d = event.data as Data<typeof CertificateIssued>;
      deviceId = d.deviceId;
      let certificates = state.certificates.get(deviceId);
      if (!certificates) state.certificates.set(deviceId, (certificates = new Map()));
      certificates.set(d.serialNumber, parseTlsKeyId(d.keyId)?.epoch ?? 0);
      break;
    }
    case CertificateRevoked.type: {
      const d = event.data as Data<typeof CertificateRevoked>;
      deviceId = d.deviceId;
      const certificates = state.certificates.get(deviceId);
      certificates?.delete(d.serialNumber);
      if (certificates?.size === 0) state.certificates.delete(deviceId);
      break;
    }
    default:
      return;
  }
  updateOwed(state, deviceId, owes(state, deviceId), becameOwed);
}

export class TransferRevocationsView extends TransferWorkView<TransferRevocationsState, DeviceTransfer> {
  static readonly viewName = 'ca-transfer-revocations';

  static start(store: EventStore, logger: Logger): Promise<TransferRevocationsView> {
    return TransferWorkView.startLive(
      store,
      {
        name: TransferRevocationsView.viewName,
        // The same filters as the eligibility view (registry) and the CA's own views (ca): shared consumers.
        sources: [{ context: 'registry' }, { context: 'ca' }],
        // Checkpointed: a restart loads the newest checkpoint and replays only what follows. Bump the version
        // when the state or evolve changes.
        checkpoint: { owner: 'ca', version: 1 },
        initialState: initialTransferRevocationsState,
        fold: foldTransferRevocations,
      },
      logger,
      (live, listeners) => new TransferRevocationsView(live, listeners),
    );
  }
}
