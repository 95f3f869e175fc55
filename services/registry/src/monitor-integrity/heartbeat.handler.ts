/**
 * A heartbeat whose signature verified: judged against the last one accepted and the measurement
 * expected (heartbeat-judge.ts); a violation is recorded with the action its policy names. Only
 * what a heartbeat reveals is written; an accepted heartbeat changes the ledger alone.
 */
import { Inject, Injectable } from '@nestjs/common';
import type { DeviceMessageOf, HeartbeatMessage } from '@tunnelkey/contracts';
import { derivedCommandId } from '@tunnelkey/eventstore';
import type { Clock } from '../shared/clock.js';
import { uplinkMetadata } from '../shared/command-metadata.js';
import { REGISTRY_CLOCK } from '../tokens.js';
import { IntegrityView } from '../views/integrity.view.js';
import { HeartbeatLedger } from './heartbeat-ledger.js';
import { judgeHeartbeat } from './heartbeat-judge.js';
import { RecordViolation } from './record-violation.js';

export type Heartbeat = DeviceMessageOf<typeof HeartbeatMessage>;
export type HeartbeatOutcome = 'accepted' | 'violation' | 'replayed' | 'unmonitored';

@Injectable()
export class HeartbeatHandler {
  constructor(
    private readonly integrity: IntegrityView,
    private readonly ledger: HeartbeatLedger,
    private readonly violations: RecordViolation,
    @Inject(REGISTRY_CLOCK) private readonly clock: Clock,
  ) {}

  /**
   * `heartbeat` verified: its signature by the device's enrolment key and its time within the
   * window. Its counter may be one the verifier had seen (`counterSeen`): then only the judge can
   * tell a replay from a second device holding the key.
   */
  async handle(heartbeat: Heartbeat): Promise<HeartbeatOutcome> {
    const { deviceId, counter } = heartbeat;
    if (!this.integrity.monitored(deviceId)) return 'unmonitored';
    const now = this.clock();
    const sentAt = Date.parse(heartbeat.sentAt);
    const last = this.ledger.last(deviceId);
    const expected = this.integrity.expectedMeasurement(deviceId);
    const { firmwareMeasurement } = heartbeat.body;
    const judged = judgeHeartbeat({ counter, sentAt, nonce: heartbeat.nonce, firmwareMeasurement }, last, expected);
    if (judged.verdict === 'replayed') return 'replayed';
    if (judged.verdict === 'accepted')
      this.ledger.accept(
        deviceId,
        { counter, sentAt, sentAtIso: heartbeat.sentAt, nonce: heartbeat.nonce },
        now.getTime(),
      );
    if (!judged.violation) return 'accepted';
    const { action } = this.integrity.policyFor(deviceId);
    const metadata = uplinkMetadata(heartbeat, now);
    await this.violations.record(
      {
        deviceId,
        violationId: derivedCommandId(`integrity-${deviceId}`, `${judged.violation}-${counter}`),
        kind: judged.violation,
        action,
        ...(expected ? { expectedMeasurement: expected } : {}),
        observedMeasurement: firmwareMeasurement,
        counter,
        ...(last ? { lastCounter: last.counter } : {}),
        heartbeatAt: heartbeat.sentAt,
      },
      metadata,
    );
    return 'violation';
  }
}
