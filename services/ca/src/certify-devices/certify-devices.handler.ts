/**
 * CertifyDevices: ask each eligible device in scope for a CSR (csr-request to its inbox). The
 * requestId is derived from the command id and the device, so a retried command asks for the
 * same certificates and the devices' answers are issued once.
 */
import { CertifyDevices, CsrRequestMessage, type CommandOf, type ResultOf } from '@tunnelkey/contracts';
import type { Logger } from 'pino';
import type { CertificateAuthority } from '../authority/certificate-authority.js';
import type { DeviceEligibility } from '../device-eligibility/device-eligibility.js';
import { CaCommandRejected } from '../errors.js';
import { CertificateRefused } from '../certificate-issuance/certificate-refused.js';
import type { IssuanceContext } from '../certificate-issuance/issuance-request.js';
import { deviceInBatch, deviceKnown, deviceNotRevoked, deviceVerified, policyAllowsIssuance } from '../certificate-issuance/request-validators.js';
import { BoundedConcurrency } from '../shared/bounded-concurrency.js';
import { certificationRequestId } from '../shared/derived-ids.js';
import type { DownlinkPublisher } from '@tunnelkey/device-protocol';
import type { CrlPublisher } from '../crl-publication/crl-publisher.js';

/** The same registry checks issuance applies; a device failing them is not asked for a CSR. */
const eligibilityChecks = [deviceKnown, deviceNotRevoked, deviceInBatch, deviceVerified, policyAllowsIssuance];

export interface CertifyDevicesDeps {
  eligibility: DeviceEligibility;
  authority: CertificateAuthority;
  downlinks: DownlinkPublisher;
  /** Each issuing CA gets its first CRL before its first certificate (targets enforcing CRLs need one). */
  crls: Pick<CrlPublisher, 'ensurePublished'>;
  logger: Logger;
}

export async function certifyDevices(deps: CertifyDevicesDeps, command: CommandOf<typeof CertifyDevices>): Promise<ResultOf<typeof CertifyDevices>> {
  await deps.eligibility.syncNow(); // the operator just saw the devices verified; so must we
  const candidates = deps.eligibility.devicesInScope(command.scope);
  const eligible: Array<{ deviceId: string; ownerId: string }> = [];
  let firstRefusal: CertificateRefused | undefined;
  for (const deviceId of candidates) {
    const facts = deps.eligibility.facts(deviceId);
    const ctx: IssuanceContext = { request: { deviceId, requestId: 'probe', keyId: 'enrolment', csrDer: new Uint8Array(), receivedAt: new Date(0) }, facts, attested: false };
    try {
      for (const check of eligibilityChecks) await check.validate(ctx, deps.eligibility);
      eligible.push({ deviceId, ownerId: facts.ownerId! });
    } catch (error) {
      if (!(error instanceof CertificateRefused)) throw error;
      firstRefusal ??= error;
    }
  }
  if (command.scope.kind === 'device' && eligible.length === 0) {
    const refusal = firstRefusal ?? new CertificateRefused('unknown-device', 'the device is not known to the registry');
    throw new CaCommandRejected(refusal.reason, refusal.message, { deviceId: command.scope.deviceId });
  }
  // Create the owners' issuing CAs now, not in a race among the first CSRs.
  for (const ownerId of new Set(eligible.map((e) => e.ownerId))) await deps.crls.ensurePublished((await deps.authority.issuingFor(ownerId)).authorityId);
  const keyId = command.keyId ?? 'enrolment';
  const limiter = new BoundedConcurrency(64);
  await Promise.all(
    eligible.map(({ deviceId }) =>
      limiter.run(() => deps.downlinks.send(CsrRequestMessage, deviceId, { requestId: certificationRequestId(command.commandId, deviceId), keyId })),
    ),
  );
  deps.logger.info(
    { event: 'ca.certification_requested', commandId: command.commandId, scope: command.scope.kind, devices: eligible.length, skipped: candidates.length - eligible.length },
    'CSRs requested',
  );
  return { devices: eligible.length };
}
