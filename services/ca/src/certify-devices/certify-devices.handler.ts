/**
 * CertifyDevices: ask each eligible device in scope for a CSR (csr-request to its inbox). The
 * requestId is derived from the command id and the device, so a retried command asks for the
 * same certificates and the devices' answers are issued once.
 */
import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { CertifyDevices, CsrRequestMessage, type CommandOf, type ResultOf } from '@tunnelkey/contracts';
import { mapBounded } from '@tunnelkey/concurrency';
import type { DownlinkPublisher } from '@tunnelkey/device-protocol';
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
import { CA_LOGGER, DOWNLINKS } from '../tokens.js';
import { DeviceEligibilityView } from '../views/device-eligibility.view.js';

/** The same registry checks issuance applies; a device failing them is not asked for a CSR. */
const eligibilityChecks = [deviceKnown, deviceNotRevoked, deviceInBatch, deviceVerified, policyAllowsIssuance];

/** csr-requests in flight at once: a batch of 10,000 devices must not swamp the bus. */
const maxConcurrentRequests = 64;

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
    @Inject(DOWNLINKS) private readonly downlinks: DownlinkPublisher,
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
    await mapBounded(eligible, maxConcurrentRequests, ({ deviceId }) =>
      this.downlinks.send(CsrRequestMessage, deviceId, {
        requestId: certificationRequestId(command.commandId, deviceId),
        keyId,
      }),
    );
    const { commandId } = command;
    const skipped = candidates.length - eligible.length;
    const logged = {
      event: 'ca.certification_requested',
      commandId,
      scope: command.scope.kind,
      devices: eligible.length,
      skipped,
    };
    this.logger.info(logged, 'CSRs requested');
    return { devices: eligible.length };
  }
}
