/**
 * Integrity monitoring's `revoke` action (issue 17): an IntegrityViolationDetected of the registry
 * whose policy says `revoke` starts the device's revocation, as an operator's RevokeDevice would
 * (reason keyCompromise: its key is held by something that is not the device as enrolled). One
 * durable shared by every instance; the command id derives from the violation, so a redelivery
 * starts nothing twice. A device that cannot be revoked (unknown to the plan, revoked already) is
 * logged, not retried.
 */
import { Inject, Injectable } from '@nestjs/common';
import { IntegrityViolationDetected } from '@tunnelkey/contracts';
import { derivedCommandId, isCommandRejected, type EventStore, type RecordedEvent } from '@tunnelkey/eventstore';
import { DurableReaction, EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { RevokeDevicesHandler } from '../revoke-devices/revoke-devices.handler.js';
import { REVOCATION_LOGGER } from '../tokens.js';

export const integrityViolationsDurable = 'revocation-integrity-violations';

@Injectable()
export class IntegrityViolationsReaction extends DurableReaction {
  constructor(
    @Inject(EVENT_STORE) store: EventStore,
    private readonly revocations: RevokeDevicesHandler,
    @Inject(REVOCATION_LOGGER) private readonly log: Logger,
  ) {
    super(store, {
      durable: integrityViolationsDurable,
      context: 'registry',
      aggregate: 'integrity',
      delivery: 'retry-forever',
      logger: log,
    });
  }

  async handle(recorded: RecordedEvent): Promise<void> {
    const { event } = recorded;
    if (!IntegrityViolationDetected.is(event) || event.data.action !== 'revoke') return;
    const { deviceId, violationId, kind } = event.data;
    try {
      const started = await this.revocations.revokeDevice({
        commandId: derivedCommandId('integrity-revoke', violationId),
        correlationId: event.correlationId,
        actor: { kind: 'service', id: 'registry' },
        deviceId,
        reason: 'keyCompromise',
      });
      this.log.warn(
        { event: 'revocation.integrity_revoke', deviceId, violationId, kind, revocationId: started.revocationId },
        'device revoked after an integrity violation',
      );
    } catch (error) {
      if (!isCommandRejected(error)) throw error;
      this.log.warn(
        { event: 'revocation.integrity_revoke_refused', deviceId, violationId, reason: error.reason },
        'integrity violation: the device could not be revoked',
      );
    }
  }
}
