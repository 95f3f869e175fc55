/**
 * One device's OTA facts (`ota.device.<deviceId>`): its firmware-decryption public keys, and per
 * rollout one offer (recorded before it is sent: never offered twice) and one outcome: applied
 * only on a signed boot report whose measurement equals the release's digest; failed with the
 * device's reason, or `timeout` past the deadline or with no answer to the offer; or skipped with
 * the reason it was excluded.
 */
import {
  DeviceFirmwareKeysRecorded,
  DeviceUpdateApplied,
  DeviceUpdateFailed,
  DeviceUpdateOffered,
  DeviceUpdateSkipped,
  type DataOf,
  type EventOf,
  updateFailureReasons,
} from '@tunnelkey/contracts';
import { CommandRejected, type Command, type Decider, type NewEvent } from '@tunnelkey/eventstore';

export type FirmwareKeysData = DataOf<typeof DeviceFirmwareKeysRecorded>;
export type OfferData = DataOf<typeof DeviceUpdateOffered>;
export type SkipData = DataOf<typeof DeviceUpdateSkipped>;
export type FailureReason = (typeof updateFailureReasons)[number];

export type DeviceUpdateEvent =
  | EventOf<typeof DeviceFirmwareKeysRecorded>
  | EventOf<typeof DeviceUpdateOffered>
  | EventOf<typeof DeviceUpdateApplied>
  | EventOf<typeof DeviceUpdateFailed>
  | EventOf<typeof DeviceUpdateSkipped>;

/** A verified update-report. */
export interface UpdateReport {
  rolloutId: string;
  status: 'booted' | 'failed';
  firmwareMeasurement: string;
  reason?: FailureReason;
  detail?: string;
}

export type DeviceUpdateCommand =
  | Command<'RecordFirmwareKeys', FirmwareKeysData>
  | Command<'OfferUpdate', OfferData>
  | Command<'RecordUpdateReport', UpdateReport>
  /** Past the offer's deadline without a boot report (`metadata.now` says when). */
  | Command<'RecordUpdateTimeout', { rolloutId: string }>
  /**
   * No answer to the offer (no chunk request, no report) for `waitedSeconds` while it was sent
   * again and again (OTA_OFFER_ANSWER_SECONDS): the rollout process saw that, the log cannot.
   */
  | Command<'RecordOfferUnanswered', { rolloutId: string; waitedSeconds: number }>
  | Command<'SkipDevice', SkipData>;

export interface DeviceRolloutEntry {
  status: 'offered' | 'applied' | 'failed' | 'skipped';
  offer?: OfferData;
  wave?: number;
}

export interface DeviceUpdateState {
  keys?: FirmwareKeysData;
  rollouts: Record<string, DeviceRolloutEntry>;
}

export const deviceUpdateStream = (deviceId: string) => ({
  context: 'ota' as const,
  aggregate: 'device',
  id: deviceId,
});

export const deviceUpdateDecider: Decider<DeviceUpdateCommand, DeviceUpdateEvent, DeviceUpdateState> = {
  initialState: () => ({ rollouts: {} }),

  decide(command, state): NewEvent<DeviceUpdateEvent>[] {
    switch (command.type) {
      case 'RecordFirmwareKeys': {
        const { keys } = state;
        const data = command.data;
        // Owner epochs only grow: keys of an epoch below the recorded keys' are an earlier owner's.
        if (keys && data.ownerEpoch < keys.ownerEpoch)
          throw new CommandRejected(
            'other-owner-epoch',
            `keys of owner epoch ${data.ownerEpoch}; keys of epoch ${keys.ownerEpoch} are recorded`,
          );
        if (
          keys &&
          keys.ownerEpoch === data.ownerEpoch &&
          keys.ecdhPublicKey === data.ecdhPublicKey &&
          keys.mlKemPublicKey === data.mlKemPublicKey
        )
          return [];
        return [{ type: 'DeviceFirmwareKeysRecorded', version: 2, data }];
      }
      case 'OfferUpdate': {
        // Once per rollout: an offer, a skip or an outcome recorded before means never again.
        if (state.rollouts[command.data.rolloutId]) return [];
        return [{ type: 'DeviceUpdateOffered', version: 1, data: command.data }];
      }
      case 'SkipDevice': {
        const entry = state.rollouts[command.data.rolloutId];
        // A device offered already is skipped only when the rollout was aborted before it answered.
        if (entry && !(entry.status === 'offered' && command.data.reason === 'aborted')) return [];
        return [{ type: 'DeviceUpdateSkipped', version: 1, data: command.data }];
      }
      case 'RecordUpdateReport': {
        const report = command.data;
        const entry = state.rollouts[report.rolloutId];
        if (!entry?.offer)
          throw new CommandRejected('not-offered', `the device was not offered rollout ${report.rolloutId}`);
        if (entry.status !== 'offered') return []; // decided already (a repeated report, after a timeout)
        const { deviceId, rolloutId, firmwareId, version, imageDigest } = entry.offer;
        if (report.status === 'booted' && report.firmwareMeasurement === imageDigest) {
          const data = { deviceId, rolloutId, firmwareId, version, firmwareMeasurement: report.firmwareMeasurement };
          return [{ type: 'DeviceUpdateApplied', version: 1, data }];
        }
        const reason: FailureReason = report.status === 'booted' ? 'digest' : (report.reason ?? 'other');
        const detail =
          report.status === 'booted'
            ? 'booted an image whose measurement is not the release digest'
            : report.detail?.slice(0, 512);
        const data = {
          deviceId,
          rolloutId,
          firmwareId,
          reason,
          firmwareMeasurement: report.firmwareMeasurement,
          ...(detail ? { detail } : {}),
        };
        return [{ type: 'DeviceUpdateFailed', version: 1, data }];
      }
      case 'RecordUpdateTimeout': {
        const entry = state.rollouts[command.data.rolloutId];
        if (entry?.status !== 'offered' || !entry.offer) return [];
        if (Date.parse(command.metadata.now) < Date.parse(entry.offer.deadline)) return [];
        const { deviceId, rolloutId, firmwareId } = entry.offer;
        const data = {
          deviceId,
          rolloutId,
          firmwareId,
          reason: 'timeout' as const,
          detail: 'no boot report before the deadline',
        };
        return [{ type: 'DeviceUpdateFailed', version: 1, data }];
      }
      case 'RecordOfferUnanswered': {
        const entry = state.rollouts[command.data.rolloutId];
        if (entry?.status !== 'offered' || !entry.offer) return [];
        const { deviceId, rolloutId, firmwareId } = entry.offer;
        const data = {
          deviceId,
          rolloutId,
          firmwareId,
          reason: 'timeout' as const,
          detail: `no answer to the offer in ${command.data.waitedSeconds} s`,
        };
        return [{ type: 'DeviceUpdateFailed', version: 1, data }];
      }
      default: {
        const unknown: never = command;
        throw new CommandRejected('unknown-command', `unknown command ${(unknown as Command).type}`);
      }
    }
  },

  evolve(state, event): DeviceUpdateState {
    switch (event.type) {
      case 'DeviceFirmwareKeysRecorded':
        // A v1 (recorded before owner epochs) has none: epoch 0, as the contract's upcaster says.
        return { ...state, keys: { ...event.data, ownerEpoch: event.data.ownerEpoch ?? 0 } };
      case 'DeviceUpdateOffered': {
        const entry: DeviceRolloutEntry = { status: 'offered', offer: event.data, wave: event.data.wave };
        return { ...state, rollouts: { ...state.rollouts, [event.data.rolloutId]: entry } };
      }
      case 'DeviceUpdateApplied':
      case 'DeviceUpdateFailed':
      case 'DeviceUpdateSkipped': {
        const status =
          event.type === 'DeviceUpdateApplied' ? 'applied' : event.type === 'DeviceUpdateFailed' ? 'failed' : 'skipped';
        const entry = state.rollouts[event.data.rolloutId] ?? {};
        return { ...state, rollouts: { ...state.rollouts, [event.data.rolloutId]: { ...entry, status } } };
      }
      default:
        return state;
    }
  },
};
