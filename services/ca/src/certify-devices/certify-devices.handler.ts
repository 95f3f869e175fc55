/**
 * CertifyDevices: queue a CSR request for each eligible device in scope and reply how many will be
 * asked, once under way. The window (CsrRequestsJob) asks them as it has room, records each request
 * first, asks again whoever does not answer and gives up whoever never does. The requestId is
 * derived from the command id and the device, so a retried command asks for the same certificates
 * and the devices' answers are issued once.
 */
import { Inject, Injectable } from '@nestjs/common';
import { CertifyDevices, type CommandOf, type ResultOf } from '@tunnelkey/contracts';
import {
  AggregateStateCache,
  derivedCommandId,
  handleCommand,
  type EventStore,
  type QueuedDevicesState,
} from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { caActor, CertificateAuthority } from '../authority/certificate-authority.js';
import { CaCommandRejected } from '../errors.js';
import { CertificateRefused } from '../issue-certificate/certificate-refused.js';
import type { IssuanceContext } from '../issue-certificate/issuance-request.js';
import {
  deviceInBatch,
  deviceKnown,
  deviceNotRevoked,
  deviceVerified,
  policyAllowsIssuance,
} from '../issue-certificate/request-validators.js';
import { PublishCrlHandler } from '../publish-crl/publish-crl.handler.js';
import { CA_LOGGER, CLOCK, type Clock } from '../tokens.js';
import { DeviceEligibilityView } from '../views/device-eligibility.view.js';
import {
  certificationDecider,
  certificationRequestId,
  certificationStream,
  devicesPerQueuedEvent,
} from './certification.decider.js';

export { certificationRequestId } from './certification.decider.js';
import { CsrRequestsJob } from './csr-requests.job.js';

/** The same registry checks issuance applies; a device failing them is not asked for a CSR. */
const eligibilityChecks = [deviceKnown, deviceNotRevoked, deviceInBatch, deviceVerified, policyAllowsIssuance];

@Injectable()
export class CertifyDevicesHandler {
  constructor(
    private readonly eligibility: DeviceEligibilityView,
    private readonly authority: CertificateAuthority,
    /** Each issuing CA gets its first CRL before its first certificate (targets enforcing CRLs need one). */
    private readonly crls: PublishCrlHandler,
    private readonly requests: CsrRequestsJob,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(CA_LOGGER) private readonly logger: Logger,
  ) {}

  async handle(command: CommandOf<typeof CertifyDevices>): Promise<ResultOf<typeof CertifyDevices>> {
    await this.eligibility.catchUp(); // the operator just saw the devices verified; so must we
    const candidates = this.eligibility.devicesInScope(command.scope);
    const eligible: Array<{ deviceId: string; ownerId: string }> = [];
    let firstRefusal: CertificateRefused | undefined;
    for (const deviceId of candidates) {
      const facts = this.eligibility.facts(deviceId);
      const request = {
        deviceId,
        requestId: 'probe',
        keyId: 'enrolment',
        csrDer: new Uint8Array(),
        receivedAt: new Date(0),
      };
      const ctx: IssuanceContext = { request, facts, attested: false };
      try {
        for (const check of eligibilityChecks) await check.validate(ctx, this.eligibility);
        eligible.push({ deviceId, ownerId: facts.ownerId! });
      } catch (error) {
        if (!(error instanceof CertificateRefused)) throw error;
        firstRefusal ??= error;
      }
    }
    if (command.scope.kind === 'device' && eligible.length === 0) {
      const refusal =
        firstRefusal ?? new CertificateRefused('unknown-device', 'the device is not known to the registry');
      throw new CaCommandRejected(refusal.reason, refusal.message, { deviceId: command.scope.deviceId });
    }
    // Create the owners' issuing CAs now, not in a race among the first CSRs.
    for (const ownerId of new Set(eligible.map((e) => e.ownerId))) {
      await this.crls.ensurePublished((await this.authority.issuingFor(ownerId)).authorityId);
    }
    const keyId = command.keyId ?? 'enrolment';
    const { commandId } = command;
    const correlationId = command.correlationId ?? commandId;
    // In the log before the answer: a crash from here on leaves the devices owed a request, not forgotten.
    await this.#queue(
      commandId,
      correlationId,
      keyId,
      eligible.map(({ deviceId }) => deviceId),
    );
    this.requests.ask(
      eligible.map(({ deviceId }) => ({
        deviceId,
        requestId: certificationRequestId(commandId, deviceId),
        keyId,
        correlationId,
      })),
    );
    const skipped = candidates.length - eligible.length;
    const logged = {
      event: 'ca.certification_requested',
      commandId,
      scope: command.scope.kind,
      devices: eligible.length,
      skipped,
      queued: this.requests.queued,
      outstanding: this.requests.outstanding,
    };
    this.logger.info(logged, 'CSR requests queued');
    return { devices: eligible.length };
  }

  /** Records CsrRequestsQueued, 1,000 devices per event (a retried command records only what is missing). */
  async #queue(commandId: string, correlationId: string, keyId: string, deviceIds: readonly string[]): Promise<void> {
    const stream = certificationStream(commandId);
    // The stream read once, then each part decided on the state the one before left: a part read
    // the whole stream again, every part (quadratic: minutes at 100,000 devices).
    const cache = new AggregateStateCache<QueuedDevicesState>({ maxStreams: 1 });
    for (let part = 0; part * devicesPerQueuedEvent < deviceIds.length; part++) {
      const chunk = deviceIds.slice(part * devicesPerQueuedEvent, (part + 1) * devicesPerQueuedEvent);
      await handleCommand({
        store: this.store,
        decider: certificationDecider,
        stream,
        cache,
        command: {
          type: 'QueueCsrRequests',
          data: { commandId, keyId, deviceIds: chunk },
          metadata: {
            commandId: derivedCommandId(commandId, 'queued', String(part)),
            correlationId,
            now: this.clock().toISOString(),
            actor: caActor,
          },
        },
        logger: this.logger,
      });
    }
  }
}
