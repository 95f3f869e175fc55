import { Inject, Injectable } from '@nestjs/common';
import { mapBounded } from '@tunnelkey/concurrency';
import { EnrolmentKeyRequestMessage, RequestEnrolmentKeys, type ResultOf } from '@tunnelkey/contracts';
import { handleCommand, metadataOf, type EventStore } from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import type { RegistryConfig } from '../config.js';
import { batchDecider } from '../deciders/batch.decider.js';
import type { Downlinks } from '../downlink-port/downlinks.js';
import { AnnouncedDevices } from '../shared/announced-devices.js';
import { addSeconds, type Clock } from '../shared/clock.js';
import { commandOf } from '../shared/command-metadata.js';
import { batchStream } from '../shared/registry-streams.js';
import { DOWNLINKS, REGISTRY_CLOCK, REGISTRY_CONFIG, REGISTRY_LOGGER } from '../tokens.js';
import { DeviceByIdView } from '../views/device-by-id.view.js';
import { EnrolmentKeyRequestsView } from '../views/enrolment-key-requests.view.js';

/**
 * For operators without an identity file: asks the named devices, or every device that announced
 * itself and is in no batch yet, to report its enrolment key. Reports arrive as
 * enrolment-key-report messages (see enrolment-key-report.handler): named devices and devices a
 * manufacturer key of the batch attests join the batch, others are held for an operator's approval.
 */
@Injectable()
export class RequestEnrolmentKeysHandler {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly requests: EnrolmentKeyRequestsView,
    private readonly devices: DeviceByIdView,
    private readonly announced: AnnouncedDevices,
    @Inject(DOWNLINKS) private readonly downlinks: Downlinks,
    @Inject(REGISTRY_CONFIG) private readonly config: RegistryConfig,
    @Inject(REGISTRY_CLOCK) private readonly clock: Clock,
    @Inject(REGISTRY_LOGGER) private readonly logger: Logger,
  ) {}

  async handle(payload: unknown): Promise<ResultOf<typeof RequestEnrolmentKeys>> {
    const { commandId, correlationId, actor, batchId, requestId, deviceIds, ttlSeconds } =
      RequestEnrolmentKeys.parse(payload);
    const now = this.clock();
    const metadata = metadataOf({ commandId, correlationId, actor }, now);
    const expiresAt = addSeconds(now, ttlSeconds).toISOString();
    const result = await handleCommand({
      store: this.store,
      decider: batchDecider,
      stream: batchStream(batchId),
      command: commandOf(
        'RequestEnrolmentKeys',
        { batchId, requestId, expiresAt, ...(deviceIds ? { deviceIds } : {}) },
        metadata,
      ),
      logger: this.logger,
    });
    const request = result.state.status === 'Created' ? result.state.enrolmentKeyRequests[requestId] : undefined;
    const effectiveExpiry = request?.expiresAt ?? expiresAt;
    // Reports can come back within milliseconds: the view must know the request first; and the
    // announcements written before it decide whom an open request goes to.
    await Promise.all([this.requests.catchUp(), this.devices.catchUp()]);
    // Open: the devices announced to this replica lately (in memory), and those the log holds as
    // Announced from before announcements stopped being written. Devices announcing while the
    // request is open are asked then (announce.handler). Who answers unattested is held for approval.
    const targets = request?.deviceIds ?? [
      ...new Set([...this.devices.unassignedAnnounced(), ...this.announced.recent(now)]),
    ];
    // A retried request is sent again while it is open: devices answer idempotently.
    if (Date.parse(effectiveExpiry) > now.getTime()) {
      await mapBounded(targets, this.config.bulkConcurrency, (deviceId) =>
        this.downlinks.send(EnrolmentKeyRequestMessage, deviceId, { requestId, expiresAt: effectiveExpiry }),
      );
    }
    this.logger.info(
      {
        event: 'registry.enrolment_keys_requested',
        batchId,
        requestId,
        devices: targets.length,
        named: Boolean(request?.deviceIds),
        commandId,
      },
      'enrolment keys requested',
    );
    return { requestId, expiresAt: effectiveExpiry };
  }
}
