import {
  Type,
  type ObjectOptions,
  type Static,
  type StringOptions,
  type TLiteral,
  type TProperties,
  type TUnion,
} from '@sinclair/typebox';
import './formats.js';

/**
 * Building blocks for payloads: every string is bounded and, where it has a syntax, patterned.
 * Binary values travel as standard base64 (RFC 4648 section 4, padded); digests as lowercase hex.
 */

/** An object that refuses properties it does not declare: contracts are closed. */
export function Struct<P extends TProperties>(properties: P, options: ObjectOptions = {}) {
  return Type.Object(properties, { additionalProperties: false, ...options });
}

/** A union of string literals, e.g. reason codes. */
export function OneOf<const L extends readonly [string, ...string[]]>(
  values: L,
  options: { description?: string } = {},
): TUnion<TLiteral<L[number]>[]> {
  return Type.Union(
    values.map((v) => Type.Literal(v)),
    options,
  ) as TUnion<TLiteral<L[number]>[]>;
}

/** Base64 whose decoded length is at most `maxBytes`. */
export function Base64(maxBytes: number, options: StringOptions = {}) {
  return Type.String({
    pattern: '^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$',
    minLength: 4,
    maxLength: Math.ceil(maxBytes / 3) * 4,
    contentEncoding: 'base64',
    ...options,
  });
}

/** A single-line, human-readable text: no control characters. */
export function Text(maxLength: number, options: StringOptions = {}) {
  return Type.String({ minLength: 1, maxLength, pattern: '^[^\\u0000-\\u001f\\u007f]+$', ...options });
}

/** SHA-256 digest as 64 lowercase hex characters. */
export const Sha256Hex = Type.String({ pattern: '^[0-9a-f]{64}$', description: 'SHA-256, lowercase hex' });

/** Certificate serial number, lowercase hex without leading sign byte; RFC 5280 allows at most 20 octets. */
export const SerialHex = Type.String({ pattern: '^[0-9a-f]{2,40}$', description: 'Serial number, lowercase hex' });

/** A public key as base64 DER SubjectPublicKeyInfo (P-256: 91 bytes). Up to 4 KiB so ML-DSA keys fit later. */
export const SpkiDerBase64 = Base64(4096, { description: 'SubjectPublicKeyInfo, DER, base64' });

/** A public key as PEM (`-----BEGIN PUBLIC KEY-----`). */
export const PublicKeyPem = Type.String({
  pattern: '^-----BEGIN PUBLIC KEY-----\\r?\\n(?:[A-Za-z0-9+/=]{1,76}\\r?\\n)+-----END PUBLIC KEY-----\\r?\\n?$',
  maxLength: 6144,
});

/** One X.509 certificate as PEM. Certificates are public: they may travel in events. */
export const CertificatePem = Type.String({
  pattern: '^-----BEGIN CERTIFICATE-----\\r?\\n(?:[A-Za-z0-9+/=]{1,76}\\r?\\n)+-----END CERTIFICATE-----\\r?\\n?$',
  maxLength: 16384,
});

/** Issuer first: the chain above a leaf, up to (not necessarily including) the root. */
export const CertificateChainPem = Type.Array(CertificatePem, { minItems: 1, maxItems: 4 });

/** An X.500 distinguished name in RFC 4514 string form, e.g. `CN=d-7f3a,O=tunnelkey`. */
export const DistinguishedName = Text(1024);

/** PKCS#10 CSR, DER, base64; larger than 16 KiB is refused by contract (issue 4). */
export const maxCsrBytes = 16 * 1024;
export const CsrDerBase64 = Base64(maxCsrBytes, { description: 'PKCS#10 CertificationRequest, DER, base64' });

/** ECDSA P-256 signature, IEEE P1363 form (r || s, 64 bytes, as WebCrypto produces it), base64. */
export const EcdsaP256Signature = Type.String({
  // Canonical base64 only: the last character before `==` carries 2 bits and 4 zero bits, so
  // [AQgw]. Any other makes a second spelling of the same signature (found by fuzzing).
  pattern: '^[A-Za-z0-9+/]{85}[AQgw]==$',
  description: 'ECDSA P-256 SHA-256 signature, r||s (IEEE P1363), base64',
});

/** Random nonce, 16 to 64 bytes, base64. */
export const Nonce = Base64(64, { minLength: 24 });

export const HttpUrl = Type.String({ pattern: '^https?://[^\\s]{1,2000}$', maxLength: 2048 });

/** Operator-supplied labels; keys are identifiers, values short text. Never secrets. */
export const Metadata = Type.Record(
  Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }),
  Type.String({ maxLength: 256 }),
  {
    maxProperties: 32,
    additionalProperties: false,
  },
);
export type Metadata = Static<typeof Metadata>;

/** Stable machine-readable reason codes: kebab-case. */
export const ReasonCode = Type.String({ pattern: '^[a-z][a-z0-9-]{0,63}$' });

/**
 * RFC 5280 section 5.3.1 CRLReason names, as in the ASN.1 module. `removeFromCRL` is left out:
 * it only undoes a hold, which tunnelkey does not issue through revocation.
 */
export const revocationReasons = [
  'unspecified',
  'keyCompromise',
  'cACompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'certificateHold',
  'privilegeWithdrawn',
  'aACompromise',
] as const;
export type RevocationReason = (typeof revocationReasons)[number];
export const RevocationReason = OneOf(revocationReasons, { description: 'RFC 5280 CRLReason name' });

/** The CRLReason enumerated value of each name (what goes into the CRL entry extension). */
export const revocationReasonCodes: Readonly<Record<RevocationReason, number>> = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  privilegeWithdrawn: 9,
  aACompromise: 10,
};

const keyCounter = '(?:0|[1-9][0-9]{0,5})';
const tlsKeyIdBody = `tls-${keyCounter}(?:-${keyCounter})?`;
/**
 * Which device key signed or is meant: the enrolment key, or a TLS key: `tls-<generation>` under
 * the first owner (epoch 0), `tls-<epoch>-<generation>` under a later owner epoch (after a transfer).
 */
export const deviceKeyIdPattern = `^(?:enrolment|${tlsKeyIdBody})$`;
export const DeviceKeyId = Type.String({ pattern: deviceKeyIdPattern });
export const TlsKeyId = Type.String({ pattern: `^${tlsKeyIdBody}$` });

/** The wire id of TLS key `generation` under owner epoch `epoch` (the one way to write one). */
export function tlsKeyId(generation: number, epoch = 0): string {
  return epoch === 0 ? `tls-${generation}` : `tls-${epoch}-${generation}`;
}

/** The generation and owner epoch a TLS key id names (undefined for the enrolment key or anything else). */
export function parseTlsKeyId(keyId: string): { generation: number; epoch: number } | undefined {
  const match = /^tls-(0|[1-9][0-9]{0,5})(?:-(0|[1-9][0-9]{0,5}))?$/.exec(keyId);
  if (!match) return undefined;
  return match[2] === undefined
    ? { generation: Number(match[1]), epoch: 0 }
    : { generation: Number(match[2]), epoch: Number(match[1]) };
}

export const PufProfile = OneOf(['sram', 'tunnelling']);

/** Firmware version, semver-like. */
export const FirmwareVersion = Type.String({ pattern: '^[0-9A-Za-z][0-9A-Za-z.+-]{0,63}$' });

export const Counter = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
