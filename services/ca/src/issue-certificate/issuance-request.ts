/** What the pipeline works on: one verified CSR message, and what the checks learn about it. */
import type { CsrMessage, DeviceBodyOf } from '@tunnelkey/contracts';
import type { ParsedCsr } from '@tunnelkey/pki';
import type { DeviceFacts } from '../views/device-eligibility.view.js';

export type KeyAttestation = NonNullable<DeviceBodyOf<typeof CsrMessage>['keyAttestation']>;

export interface IssuanceRequest {
  deviceId: string;
  /** Chosen by the device or echoed from a csr-request; a retry with the same id gets the same certificate. */
  requestId: string;
  keyId: string;
  csrDer: Uint8Array;
  keyAttestation?: KeyAttestation;
  /** When the CA accepted the request: the certificate's notBefore and the events' time. */
  receivedAt: Date;
}

export interface IssuanceContext {
  readonly request: IssuanceRequest;
  /** Registry facts from the eligibility projection, looked up once per request. */
  facts: DeviceFacts;
  /** Set by the CSR validator. */
  csr?: ParsedCsr;
  /** True when the key is a TLS key vouched for by the enrolment key. */
  attested: boolean;
}
