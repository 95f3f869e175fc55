/**
 * Why a rollout has not moved: its state per wave, and every device offered without an outcome
 * with what the device itself is doing (downloading and how far, reported already, offline, or
 * no trace of the offer). An OTA e2e that waits in vain says this instead of a bare timeout.
 */
import type { DescribeRollout, ResultOf } from '@tunnelkey/contracts';
import type { Fleet } from '@tunnelkey/device-fleet';

type Status = ResultOf<typeof DescribeRollout>;

/** Devices listed one by one (the rest counted). */
const listed = 20;

export function describeRolloutState(status: Status): string {
  const head =
    `rollout ${status.rolloutId}: ${status.status}${status.pauseReason ? ` (${status.pauseReason})` : ''}, ` +
    `wave ${status.wave}; ${status.updated} updated, ${status.failed} failed, ${status.skipped} skipped of ${status.deviceCount}`;
  const waves = status.waves.map(
    (w) =>
      `  wave ${w.wave} (${w.percent} %, ${w.size} devices): ${w.offered} offered, ${w.updated} updated, ` +
      `${w.failed} failed, ${w.skipped} skipped${w.completed ? ', completed' : ''}`,
  );
  return [head, ...waves].join('\n');
}

/** One line per device the platform lists as offered with no outcome yet: what the device shows. */
export function describePendingDevices(status: Status, fleet: Fleet): string {
  const pending = status.devices.filter((d) => d.status === 'offered');
  if (pending.length === 0) return 'no device offered without an outcome';
  const byId = new Map([...fleet.devices()].map((d) => [d.deviceId, d]));
  const lines = pending.slice(0, listed).map(({ deviceId, wave }) => {
    const device = byId.get(deviceId);
    const fault = fleet.firmwareFaultOf(deviceId);
    const prefix = `  ${deviceId} (wave ${wave ?? '?'}${fault ? `, fault ${fault}` : ''}): `;
    if (!device) return `${prefix}not in this fleet`;
    const download = device.firmware.download;
    const reported = device.firmware.reported(status.rolloutId);
    const online = device.online ? 'online' : 'offline';
    if (download?.rolloutId === status.rolloutId)
      return `${prefix}downloading, ${download.verifiedChunks}/${download.chunkCount} chunks verified, ${online}`;
    if (reported)
      return `${prefix}reported ${reported.status}${reported.reason ? ` (${reported.reason})` : ''}, the platform has recorded no outcome (report in flight or lost), ${online}`;
    return `${prefix}no download and no report: the offer never reached it or it gave up, ${online}`;
  });
  const more = pending.length > listed ? [`  ... and ${pending.length - listed} more`] : [];
  return [`${pending.length} devices offered without an outcome:`, ...lines, ...more].join('\n');
}

/** The whole diagnosis: rollout, waves, pending devices. */
export function diagnoseRollout(status: Status, fleet: Fleet): string {
  return `${describeRolloutState(status)}\n${describePendingDevices(status, fleet)}`;
}
