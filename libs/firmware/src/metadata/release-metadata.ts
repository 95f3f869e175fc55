import { FirmwareFormatError } from '../errors.js';
import type { FirmwareSigningKeys } from '../keys/signing-keys.js';
import { TUF_SPEC_VERSION, signingBytes, tufExpires, type TufMetadata, type TufTargetsSigned } from './tuf-metadata.js';

/** What a release says about its image: all of it signed by both firmware keys. */
export interface FirmwareRelease {
  firmwareId: string;
  /** Product line / hardware id, e.g. `fridge-x200`. */
  product: string;
  /** Firmware version (dotted numbers, compared numerically; see compareFirmwareVersions). */
  version: string;
  /** SHA-256 of the plaintext image, lowercase hex: what the device measures after installing. */
  imageSha256: string;
  /** Plaintext image length in bytes. */
  length: number;
  /** TUF metadata version: strictly increasing per product; devices refuse one below the last they accepted. */
  metadataVersion: number;
  /** After this the metadata is refused (freeze attack): a release is re-signed to stay installable. */
  expires: Date | string;
}

const token = /^[0-9A-Za-z][0-9A-Za-z._+-]{0,63}$/;

/** The TUF target path of a release's image: `<product>/<version>`. */
export const targetPathOf = (product: string, version: string): string => `${product}/${version}`;

/** The unsigned `signed` part of a release's targets metadata. */
export function releaseTargets(release: FirmwareRelease): TufTargetsSigned {
  if (!token.test(release.product)) throw new FirmwareFormatError('product is not a plain token', { field: 'product' });
  if (!token.test(release.version)) throw new FirmwareFormatError('version is not a plain token', { field: 'version' });
  if (!token.test(release.firmwareId))
    throw new FirmwareFormatError('firmwareId is not a plain token', { field: 'firmwareId' });
  if (!/^[0-9a-f]{64}$/.test(release.imageSha256))
    throw new FirmwareFormatError('imageSha256 is not lowercase hex SHA-256', { field: 'imageSha256' });
  if (!Number.isSafeInteger(release.length) || release.length < 1)
    throw new FirmwareFormatError('length must be a positive integer', { field: 'length' });
  if (!Number.isSafeInteger(release.metadataVersion) || release.metadataVersion < 1)
    throw new FirmwareFormatError('metadataVersion must be a positive integer', { field: 'metadataVersion' });
  return {
    _type: 'targets',
    spec_version: TUF_SPEC_VERSION,
    version: release.metadataVersion,
    expires: tufExpires(release.expires),
    targets: {
      [targetPathOf(release.product, release.version)]: {
        length: release.length,
        hashes: { sha256: release.imageSha256 },
        custom: { tunnelkey: { firmwareId: release.firmwareId, product: release.product, version: release.version } },
      },
    },
  };
}

/** Signs `signed` with both keys (ECDSA first, then ML-DSA-65): a TUF document with two signatures. */
export async function signTargets(signed: TufTargetsSigned, keys: FirmwareSigningKeys): Promise<TufMetadata> {
  const bytes = signingBytes(signed);
  const signatures = [];
  for (const signer of [keys.ecdsa, keys.mlDsa]) {
    const sig = await signer.sign(bytes);
    signatures.push({ keyid: signer.key.keyid, sig: Buffer.from(sig).toString('hex') });
  }
  return { signatures, signed };
}

/** A release's signed targets metadata (hybrid: ECDSA P-256 + ML-DSA-65). */
export function signRelease(release: FirmwareRelease, keys: FirmwareSigningKeys): Promise<TufMetadata> {
  return signTargets(releaseTargets(release), keys);
}
