/**
 * CertifyDevices: queue a CSR request for each eligible device in scope and reply how many will be
 * asked, once under way. The window (CsrRequestsJob) asks them as it has room, records each request
 * first, asks again whoever does not answer and gives up whoever never does. The requestId is
 * derived from the command id and the device, so a retried command asks for the same certificates
 * and the devices' answers are issued once.
 */
import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { CertifyDevices, type CommandOf, type ResultOf } from '@tunnelkey/contracts';
import type { Logger } from 'pino';
import { CertificateAuthority } from '../authority/certificate-authority.js';
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
import { CA_LOGGER } from '../tokens.js';
import { DeviceEligibilityView } from '../views/device-eligibility.view.js';
import { CsrRequestsJob } from './csr-requests.job.js';

/** The same registry checks issuance applies; a device failing them is not asked for a CSR. */
const eligibilityChecks = [deviceKnown, deviceNotRevoked, deviceInBatch, deviceVerified, policyAllowsIssuance];

/**
 * The requestId a CertifyDevices command gives one device. Not a command id: it travels in the
 * device protocol as an aggregate id ([A-Za-z0-9_-], no `:`), hence a digest.
 */
export const certificationRequestId = (commandId: string, deviceId: string): string =>
  `r-${createHash('sha256').update(['certify', commandId, deviceId].join('\u0000')).digest('hex').slice(0, 32)}`;

@Injectable()
export class CertifyDevicesHandler {
  constructor(
    private readonly eligibility: DeviceEligibilityView,
    private readonly authority: CertificateAuthority,
    /** Each issuing CA gets its first CRL before its first certificate (targets enforcing CRLs need one). */
    private readonly crls: PublishCrlHandler,
    private readonly requests: CsrRequestsJob,
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
}
