/**
 * The revocation saga's RevocationRequested, to RevokeDeviceHandler.cutOffRequested: the requested
 * devices are cut off their targets at once, without waiting for the CA to revoke their platform
 * certificates and publish its CRL (PublishedCrlsReaction then finds them cut off and records that
 * the targets enforce that CRL). Requests queued behind the delivered one in the log are taken
 * along, so a burst of n revocations costs each target one CRL reload, not n; when their turn
 * comes, nothing is left to do. One durable shared by every onboarding instance
 * (`onboarding-revocation-requests`), never parked: retried until every target took it.
 */
import { Inject, Injectable } from '@nestjs/common';
import { RevocationRequested } from '@tunnelkey/contracts';
import type { EventStore, RecordedEvent } from '@tunnelkey/eventstore';
import { DurableReaction, EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { ONBOARDING_LOGGER } from '../tokens.js';
import { RevokeDeviceHandler, type RequestedRevocation } from './revoke-device.handler.js';

export const revocationRequestsDurable = 'onboarding-revocation-requests';

/** Devices one pass takes along at most (the delivered request always goes in whole). */
const maxDevicesPerPass = 5_000;

@Injectable()
export class RevocationRequestsReaction extends DurableReaction {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly handler: RevokeDeviceHandler,
    @Inject(ONBOARDING_LOGGER) logger: Logger,
  ) {
    super(store, {
      durable: revocationRequestsDurable,
      context: 'revocation',
      aggregate: 'revocation',
      delivery: 'retry-forever',
      logger,
    });
  }

  async handle(recorded: RecordedEvent): Promise<void> {
    if (!RevocationRequested.is(recorded.event)) return;
    const { revocationId, deviceIds } = recorded.event.data;
    // Taken along by an earlier pass: nothing left.
    if ((await this.handler.stillOnboarded(deviceIds)).length === 0) return;
    const requests: RequestedRevocation[] = [{ revocationId, deviceIds }];
    let devices = deviceIds.length;
    let full = false;
    await this.store.replay(
      'revocation',
      (behind) => {
        if (full || !RevocationRequested.is(behind.event)) return;
        const { data } = behind.event;
        if ((devices += data.deviceIds.length) > maxDevicesPerPass) full = true;
        else requests.push({ revocationId: data.revocationId, deviceIds: data.deviceIds });
      },
      { aggregate: 'revocation', fromSequence: recorded.sequence + 1 },
    );
    await this.handler.cutOffRequested(requests);
  }
}
