import { Type } from '@sinclair/typebox';
import { defineCommand } from '../define-command.js';
import { AggregateId } from '../envelope.js';
import { CertificatePem, Sha256Hex, Struct, TlsKeyId } from '../primitives.js';
import { BulkResult, DeviceScope } from './scope.js';

export const CreateIssuingAuthority = defineCommand({
  name: 'CreateIssuingAuthority',
  service: 'ca',
  summary:
    "The owner's issuing CA as the offline ceremony signed it (npm run ca:ceremony -- sign-issuing-ca); refused with no-issuing-authority when there is none: the service creates no CA.",
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
