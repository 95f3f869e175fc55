/**
 * Every write of a renewal goes through here: the renewal decider on `ca.renewal.<renewalId>`,
 * with a command id derived from the renewal and the step, so a retry (another instance, a sweep
 * after a restart) records nothing twice. What is recorded is folded into the renewals view at
 * once, so the next decision of this instance sees it.
 */
import { Inject, Injectable } from '@nestjs/common';
import { AggregateStateCache, derivedCommandId, handleCommand, type EventStore } from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { caActor } from '../authority/certificate-authority.js';
import { CA_LOGGER, CLOCK, type Clock } from '../tokens.js';
import { RenewalsView, type RenewalRecord } from '../views/renewals.view.js';
import { RevokedCertificatesView } from '../views/revoked-certificates.view.js';
import {
  renewalDecider,
  renewalStream,
  type RenewalCommand,
  type RenewalRequestData,
  type RenewalState,
} from './renewal.decider.js';

export interface RecordedStep {
  /** True when this call recorded the step (false: recorded before, or nothing to record). */
  recorded: boolean;
  state: RenewalState;
}

@Injectable()
export class RenewalRecorder {
  readonly #streams = new AggregateStateCache<RenewalState>({ maxStreams: 20_000 });

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly renewals: RenewalsView,
    private readonly revoked: RevokedCertificatesView,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(CA_LOGGER) private readonly logger: Logger,
  ) {}

  request(data: RenewalRequestData, correlationId: string): Promise<RecordedStep> {
    return this.#record(
      { type: 'RequestRenewal', data, metadata: this.#metadata(data.renewalId, 'requested', correlationId) },
      true,
    );
  }

  /** The renewal's CSR was answered with a certificate: the device now holds two valid ones. */
  renewed(renewal: RenewalRecord): Promise<RecordedStep> {
    const issued = renewal.issued!;
    return this.#record({
      type: 'RecordRenewed',
      data: {
        renewalId: renewal.renewalId,
        deviceId: renewal.deviceId,
        reason: renewal.reason,
        operationId: renewal.operationId,
        requestId: renewal.requestId,
        authorityId: issued.authorityId,
        serialNumber: issued.serialNumber,
        keyId: renewal.keyId,
        fingerprintSha256: issued.fingerprintSha256,
        notBefore: issued.notBefore,
        notAfter: issued.notAfter,
        previous: renewal.previous,
      },
      metadata: this.#metadata(renewal.renewalId, 'renewed', renewal.operationId),
    });
  }

  /** The device connected with the new certificate: the previous one is revoked (superseded). */
  switched(renewal: RenewalRecord, report: { serialNumber: string; targetId: string }): Promise<RecordedStep> {
    const now = this.clock().toISOString();
    return this.#record({
      type: 'RecordSwitch',
      data: {
        renewalId: renewal.renewalId,
        deviceId: renewal.deviceId,
        operationId: renewal.operationId,
        serialNumber: report.serialNumber,
        targetId: report.targetId,
        switchedAt: now,
        revokedPrevious: {
          authorityId: renewal.previous.authorityId,
          serialNumber: renewal.previous.serialNumber,
          revokedAt: now,
        },
      },
      metadata: this.#metadata(renewal.renewalId, 'switched', renewal.operationId),
    });
  }

  expire(renewal: RenewalRecord): Promise<RecordedStep> {
    const { renewalId, deviceId, operationId } = renewal;
    return this.#record({
      type: 'RecordExpiry',
      data: { renewalId, deviceId, operationId },
      metadata: this.#metadata(renewalId, 'expired', operationId),
    });
  }

  #metadata(renewalId: string, step: string, correlationId: string) {
    return {
      commandId: derivedCommandId(renewalId, step),
      correlationId,
      now: this.clock().toISOString(),
      actor: caActor,
    };
  }

  async #record(command: RenewalCommand, assumeNew = false): Promise<RecordedStep> {
    const stream = renewalStream(command.data.renewalId);
    const { events, alreadyHandled, state } = await handleCommand({
      store: this.store,
      decider: renewalDecider,
      stream,
      // A renewal's first step goes to a new subject: no read for it.
      cache: assumeNew ? this.#streams.assumeNew(stream, renewalDecider.initialState) : this.#streams,
      command,
      logger: this.logger,
    });
    for (const event of events) {
      this.renewals.note(event);
      if (event.type === 'CertificateRenewalCompleted') {
        const { revokedPrevious } = event.data;
        this.revoked.noteSuperseded(revokedPrevious);
      }
    }
    return { recorded: events.length > 0 && !alreadyHandled, state };
  }
}
