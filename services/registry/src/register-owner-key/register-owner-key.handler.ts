import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { RegisterOwnerKey, type ResultOf } from '@tunnelkey/contracts';
import { importVerifyKey } from '@tunnelkey/device-protocol';
import { handleCommand, metadataOf, type EventStore } from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { ownerDecider } from '../deciders/owner.decider.js';
import type { Clock } from '../shared/clock.js';
import { commandOf } from '../shared/command-metadata.js';
import { refused } from '../shared/registry-errors.js';
import { ownerStream } from '../shared/registry-streams.js';
import { REGISTRY_CLOCK, REGISTRY_LOGGER } from '../tokens.js';

/** Registers a P-256 public key an owner signs custody statements with (authorising or accepting a transfer). */
@Injectable()
export class RegisterOwnerKeyHandler {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(REGISTRY_CLOCK) private readonly clock: Clock,
    @Inject(REGISTRY_LOGGER) private readonly logger: Logger,
  ) {}

  async handle(payload: unknown): Promise<ResultOf<typeof RegisterOwnerKey>> {
    const { commandId, correlationId, actor, ownerId, keyId, publicKey } = RegisterOwnerKey.parse(payload);
    const der = Buffer.from(publicKey, 'base64');
    await importVerifyKey(der).catch(() => {
      throw refused('not-p256', 'the custody key is not a P-256 SubjectPublicKeyInfo', { ownerId, keyId });
    });
    const keyDigest = createHash('sha256').update(der).digest('hex');
    const result = await handleCommand({
      store: this.store,
      decider: ownerDecider,
      stream: ownerStream(ownerId),
      command: commandOf(
        'RegisterOwnerKey',
        { ownerId, keyId, publicKey: der.toString('base64'), keyDigest },
        metadataOf({ commandId, correlationId, actor }, this.clock()),
      ),
      logger: this.logger,
    });
    if (result.events.length > 0 && !result.alreadyHandled) {
      this.logger.info(
        { event: 'registry.owner_key_registered', ownerId, keyId, keyDigest, commandId },
        'owner custody key registered',
      );
    }
    return { ownerId, keyId, keyDigest };
  }
}
