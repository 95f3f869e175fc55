import { AggregateId } from '../envelope.js';
import { SerialHex, Struct } from '../primitives.js';
import { defineDeviceMessage } from './define-device-message.js';

/**
 * Renewal, rotate then revoke: the device connected to a target with the certificate of a renewal
 * (the `requestId` of the CSR it answered) and says so, signed; only then does the platform revoke
 * the previous certificate.
 */
export const CertificateSwitchedMessage = defineDeviceMessage({
  kind: 'certificate-switched',
  direction: 'uplink',
  signedWith: 'enrolment',
  summary:
    'A device connected to a target with a renewed certificate (the CSR request it answered); the previous one may now be revoked.',
  body: Struct({
    requestId: AggregateId,
    serialNumber: SerialHex,
    targetId: AggregateId,
  }),
});
