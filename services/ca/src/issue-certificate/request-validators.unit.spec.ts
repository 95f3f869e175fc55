import { createHash } from 'node:crypto';
import { keyAttestationBytes } from '@tunnelkey/contracts';
import { importVerifyKey, signBytes } from '@tunnelkey/device-protocol';
import { createCsr, generateP256KeyPair, WebCryptoSigner } from '@tunnelkey/pki';
import type { DeviceRecord } from '../views/device-eligibility.view.js';
import { CertificateRefused } from './certificate-refused.js';
import type { IssuanceContext } from './issuance-request.js';
import { requestValidators, type ValidatorDeps } from './request-validators.js';

const deviceId = 'd-abcdefghijklmnopqrstuvwxyz234567';
const deps: ValidatorDeps = { enrolmentKey: (device) => importVerifyKey(device.enrolmentPublicKey) };

const newSigner = async () => WebCryptoSigner.fromKeyPair(await generateP256KeyPair());
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

let enrolment: WebCryptoSigner;
let enrolmentPair: Awaited<ReturnType<typeof generateP256KeyPair>>;
let tls: WebCryptoSigner;
let enrolmentCsr: Uint8Array;
let tlsCsr: Uint8Array;

beforeAll(async () => {
  enrolmentPair = await generateP256KeyPair();
  enrolment = await WebCryptoSigner.fromKeyPair(enrolmentPair);
  tls = await newSigner();
  enrolmentCsr = (await createCsr({ subjectCommonName: deviceId, signer: enrolment })).der;
  tlsCsr = (await createCsr({ subjectCommonName: deviceId, signer: tls })).der;
});

const eligibleDevice = (): DeviceRecord => ({
  deviceId,
  enrolmentPublicKey: b64(enrolment.publicKeySpki),
  enrolmentKeyDigest: createHash('sha256').update(enrolment.publicKeySpki).digest('hex'),
  batchId: 'batch-1',
  verified: true,
  revoked: false,
});

const context = (
  overrides: {
    device?: DeviceRecord | null;
    csrDer?: Uint8Array;
    keyId?: string;
    keyAttestation?: IssuanceContext['request']['keyAttestation'];
    policy?: boolean;
    batch?: boolean;
  } = {},
): IssuanceContext => {
  const device = overrides.device === null ? undefined : (overrides.device ?? eligibleDevice());
  return {
    request: {
      deviceId,
      requestId: 'req-1',
      keyId: overrides.keyId ?? 'enrolment',
      csrDer: overrides.csrDer ?? enrolmentCsr,
      ...(overrides.keyAttestation ? { keyAttestation: overrides.keyAttestation } : {}),
      receivedAt: new Date('2026-01-01T00:00:00Z'),
    },
    facts: {
      ...(device ? { device } : {}),
      ...(overrides.batch === false ? {} : { batch: { batchId: 'batch-1', policyId: 'policy-1', ownerId: 'acme' } }),
      ...(overrides.policy === false
        ? {}
        : { policy: { policyId: 'policy-1', certificateLifetimeDays: 365, issuanceAllowed: true } }),
      ownerId: 'acme',
    },
    attested: false,
  };
};

const validate = async (ctx: IssuanceContext) => {
  for (const validator of requestValidators) await validator.validate(ctx, deps);
  return ctx;
};

const refusal = async (ctx: IssuanceContext): Promise<string> => {
  try {
    await validate(ctx);
  } catch (error) {
    if (error instanceof CertificateRefused) return error.reason;
    throw error;
  }
  return 'accepted';
};

const attestation = async (keyId: string, key: Uint8Array, signWith = enrolmentPair.privateKey) => {
  const publicKey = b64(key);
  return {
    keyId,
    publicKey,
    signature: await signBytes(keyAttestationBytes({ deviceId, keyId, publicKey }), signWith),
  };
};

describe('request validators', () => {
  it('accept the enrolled key of an eligible device', async () => {
    const ctx = await validate(context());
    expect(ctx.csr?.subjectCommonName).toBe(deviceId);
    expect(ctx.attested).toBe(false);
  });

  it('accept a TLS key attested by the enrolment key', async () => {
    const ctx = await validate(
      context({ keyId: 'tls-0', csrDer: tlsCsr, keyAttestation: await attestation('tls-0', tls.publicKeySpki) }),
    );
    expect(ctx.attested).toBe(true);
  });

  it.each([
    ['oversized-csr', () => context({ csrDer: new Uint8Array(16 * 1024 + 1) })],
    ['malformed-csr', () => context({ csrDer: new Uint8Array([0x30, 0x03, 0x02, 0x01]) })],
    ['malformed-csr', () => context({ csrDer: enrolmentCsr.slice(0, enrolmentCsr.length - 10) })],
    ['unknown-device', () => context({ device: null })],
    ['device-revoked', () => context({ device: { ...eligibleDevice(), revoked: true } })],
    ['device-in-no-batch', () => context({ batch: false })],
    ['device-not-verified', () => context({ device: { ...eligibleDevice(), verified: false } })],
    ['policy-forbids-issuance', () => context({ policy: false })],
  ])('refuse with %s', async (reason, make) => {
    expect(await refusal(make())).toBe(reason);
  });

  it('refuse with bad-csr-signature when the CSR is signed by a key other than the one it carries', async () => {
    const tampered = enrolmentCsr.slice();
    tampered[tampered.length - 5]! ^= 0x01; // inside the signature value
    expect(await refusal(context({ csrDer: tampered }))).toBe('bad-csr-signature');
  });

  it('refuse with key-not-enrolled when the CSR key is not the enrolled key', async () => {
    expect(await refusal(context({ csrDer: tlsCsr }))).toBe('key-not-enrolled');
  });

  it('refuse with key-not-enrolled when a TLS key comes without attestation', async () => {
    expect(await refusal(context({ keyId: 'tls-0', csrDer: tlsCsr }))).toBe('key-not-enrolled');
  });

  it('refuse with bad-key-attestation when signed by another key, naming another key, or another key id', async () => {
    const other = await newSigner();
    expect(
      await refusal(
        context({
          keyId: 'tls-0',
          csrDer: tlsCsr,
          keyAttestation: await attestation('tls-0', tls.publicKeySpki, (await generateP256KeyPair()).privateKey),
        }),
      ),
    ).toBe('bad-key-attestation');
    expect(
      await refusal(
        context({ keyId: 'tls-0', csrDer: tlsCsr, keyAttestation: await attestation('tls-0', other.publicKeySpki) }),
      ),
    ).toBe('bad-key-attestation');
    expect(
      await refusal(
        context({ keyId: 'tls-0', csrDer: tlsCsr, keyAttestation: await attestation('tls-1', tls.publicKeySpki) }),
      ),
    ).toBe('bad-key-attestation');
  });

  it('mark registry-fact refusals as possibly stale (the pipeline resyncs once), not crypto ones', () => {
    const byName = Object.fromEntries(requestValidators.map((v) => [v.name, v.dependsOnRegistry]));
    expect(byName).toMatchObject({
      'device-known': true,
      'device-verified': true,
      'csr-signature-valid': false,
      'key-enrolled-or-attested': false,
    });
  });
});
