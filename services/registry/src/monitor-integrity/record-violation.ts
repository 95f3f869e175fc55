import { Inject, Injectable } from '@nestjs/common';
import type { CommandMetadata } from '@tunnelkey/contracts';
import { handleCommand, type EventStore } from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { integrityDecider, type IntegrityViolation } from '../deciders/integrity.decider.js';
import { commandOf } from '../shared/command-metadata.js';
import { integrityStream } from '../shared/registry-streams.js';
import { REGISTRY_LOGGER } from '../tokens.js';

/** Records one violation on the device's integrity stream (and its quarantine, when the policy says so). */
@Injectable()
export class RecordViolation {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(REGISTRY_LOGGER) private readonly logger: Logger,
  ) {}

  async record(violation: IntegrityViolation, metadata: CommandMetadata): Promise<boolean> {
    const result = await handleCommand({
      store: this.store,
      decider: integrityDecider,
      stream: integrityStream(violation.deviceId),
      command: commandOf('RecordViolation', violation, metadata),
      logger: this.logger,
    });
    const recorded = result.events.length > 0 && !result.alreadyHandled;
    if (recorded)
      this.logger.warn(
        {
          event: 'registry.integrity_violation',
          deviceId: violation.deviceId,
          violationId: violation.violationId,
          kind: violation.kind,
          action: violation.action,
        },
        'integrity violation',
      );
    return recorded;
  }
}
