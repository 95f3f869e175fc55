/**
 * The checks a certificate request passes before anything is signed (smallstep's "validate the
 * request"). Each validator refuses with one contract reason. Registry-fact validators come first
 * (cheap Map reads), then the CSR's cryptography, then the key binding.
 */
import { keyAttestationBytes, parseTlsKeyId } from '@tunnelkey/contracts';
import { bytesSignatureValid, type CryptoKey } from '@tunnelkey/device-protocol';
import {
  MAX_CSR_BYTES,
  MalformedPkiObjectError,
  SignatureVerificationError,
  UnsupportedAlgorithmError,
  parseAndVerifyCsr,
  spkiEqual,
} from '@tunnelkey/pki';
import type { DeviceRecord } from '../views/device-eligibility.view.js';
import { CertificateRefused } from './certificate-refused.js';
import type { IssuanceContext } from './issuance-request.js';

export interface ValidatorDeps {
  /** The device's enrolment public key as a verify key (cached by the projection). */
  enrolmentKey(device: DeviceRecord): Promise<CryptoKey>;
}

export interface RequestValidator {
  readonly name: string;
  /** True when a refusal may only mean the projection has not seen the registry's latest events yet. */
  readonly dependsOnRegistry: boolean;
  validate(ctx: IssuanceContext, deps: ValidatorDeps): void | Promise<void>;
}

const enrolled = (ctx: IssuanceContext): DeviceRecord => {
  const device = ctx.facts.device;
  if (!device)
    throw new CertificateRefused('unknown-device', 'the device is not known to the registry', {
      deviceId: ctx.request.deviceId,
    });
  return device;
};

export const csrWithinSizeLimit: RequestValidator = {
  name: 'csr-within-size-limit',
  dependsOnRegistry: false,
  validate(ctx) {
    const length = ctx.request.csrDer.byteLength;
    if (length > MAX_CSR_BYTES)
      throw new CertificateRefused('oversized-csr', `CSR of ${length} bytes exceeds ${MAX_CSR_BYTES}`, { length });
    if (length === 0) throw new CertificateRefused('malformed-csr', 'empty CSR');
  },
};

export const deviceKnown: RequestValidator = {
  name: 'device-known',
  dependsOnRegistry: true,
  validate: (ctx) => void enrolled(ctx),
};

export const deviceNotRevoked: RequestValidator = {
  name: 'device-not-revoked',
  dependsOnRegistry: false, // revocation is sticky: a lagging projection can only miss one, never invent one
  validate(ctx) {
    if (enrolled(ctx).revoked)
      throw new CertificateRefused('device-revoked', 'the device is revoked', { deviceId: ctx.request.deviceId });
  },
};

export const deviceInBatch: RequestValidator = {
  name: 'device-in-batch',
  dependsOnRegistry: true,
  validate(ctx) {
    const device = enrolled(ctx);
    if (!device.batchId || !ctx.facts.batch) {
      throw new CertificateRefused('device-in-no-batch', 'the device belongs to no batch', {
        deviceId: device.deviceId,
      });
    }
  },
};

export const deviceVerified: RequestValidator = {
  name: 'device-verified',
  dependsOnRegistry: true,
  validate(ctx) {
    const device = enrolled(ctx);
    if (!device.verified)
      throw new CertificateRefused('device-not-verified', 'the device has not proven possession of its enrolled key', {
        deviceId: device.deviceId,
      });
  },
};

export const policyAllowsIssuance: RequestValidator = {
  name: 'policy-allows-issuance',
  dependsOnRegistry: true,
  validate(ctx) {
    const { batch, policy } = ctx.facts;
    if (!policy || !policy.issuanceAllowed || !ctx.facts.ownerId) {
      throw new CertificateRefused('policy-forbids-issuance', "the batch's server policy does not allow issuance", {
        batchId: batch?.batchId,
        policyId: batch?.policyId,
      });
    }
  },
};

/** PKCS#10 parses (pkijs, size-bounded) and its self-signature verifies (proof of possession); P-256 only. */
export const csrSignatureValid: RequestValidator = {
  name: 'csr-signature-valid',
  dependsOnRegistry: false,
  async validate(ctx) {
    try {
      ctx.csr = await parseAndVerifyCsr(ctx.request.csrDer);
    } catch (error) {
      if (error instanceof SignatureVerificationError)
        throw new CertificateRefused(
          'bad-csr-signature',
          'the CSR signature does not verify with the key it carries',
          {},
          { cause: error },
        );
      if (error instanceof UnsupportedAlgorithmError)
        throw new CertificateRefused(
          'unsupported-key',
          'the CSR key or signature algorithm is outside the profile',
          {},
          { cause: error },
        );
      if (error instanceof MalformedPkiObjectError)
        throw new CertificateRefused('malformed-csr', 'the CSR does not decode as PKCS#10', {}, { cause: error });
      throw new CertificateRefused('malformed-csr', 'the CSR could not be checked', {}, { cause: error });
    }
    if (ctx.csr.publicKey.namedCurve !== 'P-256')
      throw new CertificateRefused('unsupported-key', 'device keys must be P-256', {
        curve: ctx.csr.publicKey.namedCurve,
      });
  },
};

/**
 * The key to certify is the enrolled key (keyId `enrolment`), or a TLS key (`tls-<n>`) whose SPKI
 * the enrolment key signed over contracts' keyAttestationBytes: a stolen CSR key alone never
 * gets a certificate for this device.
 */
export const keyEnrolledOrAttested: RequestValidator = {
  name: 'key-enrolled-or-attested',
  dependsOnRegistry: false,
  async validate(ctx, deps) {
    const device = enrolled(ctx);
    const csr = ctx.csr;
    if (!csr) throw new CertificateRefused('malformed-csr', 'the CSR was not checked');
    const { keyId, keyAttestation, deviceId } = ctx.request;
    const enrolledSpki = Buffer.from(device.enrolmentPublicKey, 'base64');
    if (keyId === 'enrolment') {
      if (!spkiEqual(csr.spki, enrolledSpki))
        throw new CertificateRefused('key-not-enrolled', 'the CSR key is not the enrolled key', { deviceId, keyId });
      ctx.attested = false;
      return;
    }
    if (!keyAttestation)
      throw new CertificateRefused('key-not-enrolled', 'a TLS key needs an attestation by the enrolment key', {
        deviceId,
        keyId,
      });
    if (keyAttestation.keyId !== keyId)
      throw new CertificateRefused('bad-key-attestation', 'the attestation is for another key id', { deviceId, keyId });
    if (!spkiEqual(csr.spki, Buffer.from(keyAttestation.publicKey, 'base64'))) {
      throw new CertificateRefused('bad-key-attestation', 'the attested key is not the CSR key', { deviceId, keyId });
    }
    const statement = keyAttestationBytes({ deviceId, keyId, publicKey: keyAttestation.publicKey });
    if (!(await bytesSignatureValid(statement, keyAttestation.signature, await deps.enrolmentKey(device)))) {
      throw new CertificateRefused(
        'bad-key-attestation',
        'the key attestation does not verify with the enrolment key',
        { deviceId, keyId },
      );
    }
    ctx.attested = true;
  },
};

/**
 * A transferred device is certified for keys of its current owner epoch only (`tls-<epoch>-<n>`):
 * never an earlier owner's TLS key, nor its enrolment key (the same under every owner), so nothing
 * an earlier owner learned certifies it again.
 */
export const keyOfOwnerEpoch: RequestValidator = {
  name: 'key-of-owner-epoch',
  dependsOnRegistry: true,
  validate(ctx) {
    const device = enrolled(ctx);
    const epoch = device.ownerEpoch ?? 0;
    const { keyId, deviceId } = ctx.request;
    const keyEpoch = keyId === 'enrolment' ? 0 : parseTlsKeyId(keyId)?.epoch;
    if (keyEpoch !== epoch)
      throw new CertificateRefused('key-not-enrolled', `the key ${keyId} is not of the device's owner epoch ${epoch}`, {
        deviceId,
        keyId,
      });
  },
};

/** In order: registry facts, then cryptography. */
export const requestValidators: readonly RequestValidator[] = [
  csrWithinSizeLimit,
  deviceKnown,
  deviceNotRevoked,
  deviceInBatch,
  deviceVerified,
  policyAllowsIssuance,
  keyOfOwnerEpoch,
  csrSignatureValid,
  keyEnrolledOrAttested,
];
