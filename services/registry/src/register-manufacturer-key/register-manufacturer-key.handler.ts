import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { RegisterManufacturerKey, type ResultOf } from '@tunnelkey/contracts';
import { importVerifyKey } from '@tunnelkey/device-protocol';
import { handleCommand, metadataOf, type EventStore } from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { batchDecider } from '../deciders/batch.decider.js';
import type { Clock } from '../shared/clock.js';
import { commandOf } from '../shared/command-metadata.js';
import { refused } from '../shared/registry-errors.js';
import { batchStream } from '../shared/registry-streams.js';
import { REGISTRY_CLOCK, REGISTRY_LOGGER } from '../tokens.js';
import { EnrolmentKeyRequestsView } from '../views/enrolment-key-requests.view.js';

/**
 * Registers a manufacturer's P-256 public key with a batch: on an open enrolment-key request, a
 * device whose enrolment key this key attests joins the batch; any other is held for approval.
 */
@Injectable()
export class RegisterManufacturerKeyHandler {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly requests: EnrolmentKeyRequestsView,
    @Inject(REGISTRY_CLOCK) private readonly clock: Clock,
    @Inject(REGISTRY_LOGGER) private readonly logger: Logger,
  ) {}

  async handle(payload: unknown): Promise<ResultOf<typeof RegisterManufacturerKey>> {
    const { commandId, correlationId, actor, batchId, keyId, publicKey } = RegisterManufacturerKey.parse(payload);
    const der = Buffer.from(publicKey, 'base64');
    await importVerifyKey(der).catch(() => {
      throw refused('not-p256', 'the manufacturer key is not a P-256 SubjectPublicKeyInfo', { batchId, keyId });
    });
    const keyDigest = createHash('sha256').update(der).digest('hex');
    const result = await handleCommand({
      store: this.store,
      decider: batchDecider,
      stream: batchStream(batchId),
      command: commandOf(
        'RegisterManufacturerKey',
        { batchId, keyId, publicKey: der.toString('base64'), keyDigest },
        metadataOf({ commandId, correlationId, actor }, this.clock()),
      ),
      logger: this.logger,
    });
    // Reports may follow at once: the view must know the key first.
    await this.requests.catchUp();
    if (result.events.length > 0 && !result.alreadyHandled) {
      this.logger.info(
        { event: 'registry.manufacturer_key_registered', batchId, keyId, keyDigest, commandId },
        'manufacturer key registered',
      );
    }
    return { batchId, keyId };
  }
}
