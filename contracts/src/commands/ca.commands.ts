import { Type } from '@sinclair/typebox';
import { defineCommand } from '../define-command.js';
import { AggregateId } from '../envelope.js';
import { CertificatePem, Sha256Hex, Struct, TlsKeyId } from '../primitives.js';
import { BulkResult, DeviceScope } from './scope.js';

export const CreateIssuingAuthority = defineCommand({
  name: 'CreateIssuingAuthority',
  service: 'ca',
  summary: "Create an owner's issuing CA under the root (idempotent per owner).",
  payload: { ownerId: AggregateId },
  result: Struct({ authorityId: AggregateId, certificatePem: CertificatePem, fingerprintSha256: Sha256Hex }),
});

export const CertifyDevices = defineCommand({
  name: 'CertifyDevices',
  service: 'ca',
  summary: 'Ask verified devices to send a CSR (for the enrolment key, or a TLS key generation they attest).',
  payload: {
    scope: DeviceScope,
    /** Absent: the device certifies its enrolment key. */
    keyId: Type.Optional(TlsKeyId),
  },
  result: BulkResult,
});
