/**
 * ListIntegrityAlerts and DescribeDeviceIntegrity: what the console, the API and the CLI show of
 * integrity monitoring, from the integrity view (the log) and, for the last heartbeat, the ledger
 * of the instance that answers. An unknown device is NOT_FOUND.
 */
import { Injectable } from '@nestjs/common';
import { DescribeDeviceIntegrity, ListIntegrityAlerts, type ResultOf } from '@tunnelkey/contracts';
import { HeartbeatLedger } from '../monitor-integrity/heartbeat-ledger.js';
import { notFound } from '../shared/registry-errors.js';
import { DeviceByIdView } from '../views/device-by-id.view.js';
import { IntegrityView } from '../views/integrity.view.js';

const defaultAlerts = 100;

@Injectable()
export class IntegrityQueriesHandler {
  constructor(
    private readonly integrity: IntegrityView,
    private readonly devices: DeviceByIdView,
    private readonly ledger: HeartbeatLedger,
  ) {}

  alerts(payload: unknown): ResultOf<typeof ListIntegrityAlerts> {
    const { limit } = ListIntegrityAlerts.parse(payload);
    return { alerts: this.integrity.alerts(limit ?? defaultAlerts) };
  }

  async device(payload: unknown): Promise<ResultOf<typeof DescribeDeviceIntegrity>> {
    const { deviceId } = DescribeDeviceIntegrity.parse(payload);
    if (!this.devices.deviceState(deviceId)) {
      await this.devices.catchUp();
      if (!this.devices.deviceState(deviceId)) throw notFound(`device ${deviceId}`, { deviceId });
    }
    await this.integrity.catchUp();
    const integrity = this.integrity.device(deviceId);
    const expectedMeasurement = this.integrity.expectedMeasurement(deviceId);
    const last = this.ledger.last(deviceId);
    return {
      deviceId,
      quarantined: integrity?.quarantined ?? false,
      ...(expectedMeasurement ? { expectedMeasurement } : {}),
      policy: this.integrity.policyFor(deviceId),
      ...(last
        ? {
            lastHeartbeat: {
              counter: last.counter,
              sentAt: last.sentAtIso,
              receivedAt: new Date(last.receivedAt).toISOString(),
            },
          }
        : {}),
      violations: integrity?.violations ?? [],
      timeline: integrity?.timeline ?? [],
    };
  }
}
