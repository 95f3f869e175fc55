import { generateFirmwareSigningKeys, type FirmwareSigningKeys } from '../keys/signing-keys.js';
import { signDelegation } from '../metadata/delegation.js';
import { signRelease, signTargets, releaseTargets, type FirmwareRelease } from '../metadata/release-metadata.js';
import { metadataToJson, type TufMetadata } from '../metadata/tuf-metadata.js';
import {
  signedFixture,
  testImage,
  testPlatformKey,
  testRelease,
  type SignedFixture,
} from '../testing/firmware-fixture.test-helper.js';
import { checkDownloadedImage, decideUpdate, type DeviceUpdateState, type UpdateDecision } from './decide-update.js';
import { compareFirmwareVersions } from './firmware-version.js';

const now = new Date('2026-12-07T00:00:00Z');

describe('decideUpdate: a device judging an offered update', () => {
  let f: SignedFixture;
  let state: DeviceUpdateState;
  const offer = (metadata: TufMetadata = f.metadata, delegation: TufMetadata = f.delegation) => ({
    delegation: metadataToJson(delegation),
    metadata: metadataToJson(metadata),
  });
  const release = (overrides: Partial<FirmwareRelease>, keys: FirmwareSigningKeys = f.keys) =>
    signRelease(testRelease(f.image, overrides), keys);
  const refusal = (d: UpdateDecision) => (d.outcome === 'refused' ? [d.reason, d.detail] : ['accepted']);

  beforeAll(async () => {
    f = await signedFixture();
  });
  beforeEach(() => {
    state = {
      product: 'fridge-x200',
      installedVersion: '1.4.2',
      lastMetadataVersion: 4,
      platformKey: f.platform.publicKeySpki,
    };
  });

  describe('given a device that has not seen a delegation yet', () => {
    it('accepts a newer release for its product, signed by both delegated keys', () => {
      const d = decideUpdate(state, offer(), now);
      expect(d).toMatchObject({
        outcome: 'accepted',
        release: {
          product: 'fridge-x200',
          version: '2.0.0',
          length: f.image.length,
          metadataVersion: 5,
          firmwareId: 'fw-fridge-2-0-0',
        },
        delegation: { version: 1 },
      });
    });

    it('accepts the same metadata version again (an offer resumed after a drop is not stale)', () => {
      expect(decideUpdate({ ...state, lastMetadataVersion: 5 }, offer(), now).outcome).toBe('accepted');
    });
  });

  describe('refuses a signature that fails either algorithm (both must verify)', () => {
    const tamper = (m: TufMetadata, index: number): TufMetadata => ({
      ...m,
      signatures: m.signatures.map((s, i) => (i === index ? { ...s, sig: flipHex(s.sig) } : s)),
    });
    it('ECDSA signature wrong, ML-DSA-65 right', () => {
      expect(refusal(decideUpdate(state, offer(tamper(f.metadata, 0)), now))).toEqual([
        'signature',
        'ecdsa-sha2-nistp256',
      ]);
    });
    it('ML-DSA-65 signature wrong, ECDSA right', () => {
      expect(refusal(decideUpdate(state, offer(tamper(f.metadata, 1)), now))).toEqual(['signature', 'ml-dsa-65']);
    });
    it('ML-DSA-65 signature missing (a classical-only release)', () => {
      const classicalOnly = { ...f.metadata, signatures: [f.metadata.signatures[0]!] };
      expect(refusal(decideUpdate(state, offer(classicalOnly), now))).toEqual(['signature', 'key-not-delegated']);
    });
    it('metadata changed after signing (a bigger version claimed)', () => {
      const edited = { ...f.metadata, signed: { ...f.metadata.signed, version: 99 } };
      expect(refusal(decideUpdate(state, offer(edited), now))).toEqual(['signature', 'ecdsa-sha2-nistp256']);
    });
    it('a delegation not signed by the pinned platform key', async () => {
      const other = await signDelegation(
        { version: 2, expires: '2028-01-01T00:00:00Z', ecdsa: f.keys.ecdsa.key, mlDsa: f.keys.mlDsa.key },
        testPlatformKey(),
      );
      expect(refusal(decideUpdate(state, offer(f.metadata, other), now))).toEqual(['signature', 'platform']);
    });
    it('a delegation edited to name an attacker key', () => {
      const edited = { ...f.delegation, signed: { ...f.delegation.signed, version: 7 } };
      expect(refusal(decideUpdate(state, offer(f.metadata, edited), now))).toEqual(['signature', 'platform']);
    });
  });

  describe('given signing keys rotated by a new delegation', () => {
    let rotated: FirmwareSigningKeys;
    let delegation2: TufMetadata;
    beforeAll(async () => {
      rotated = generateFirmwareSigningKeys().keys;
      delegation2 = await signDelegation(
        { version: 2, expires: '2028-01-01T00:00:00Z', ecdsa: rotated.ecdsa.key, mlDsa: rotated.mlDsa.key },
        f.platform,
      );
    });
    it('accepts a release signed by the new keys', async () => {
      const d = decideUpdate(state, offer(await release({ metadataVersion: 6 }, rotated), delegation2), now);
      expect(d).toMatchObject({ outcome: 'accepted', delegation: { version: 2 } });
    });
    it("refuses a rotated-out key's signatures under the new delegation", () => {
      expect(refusal(decideUpdate(state, offer(f.metadata, delegation2), now))).toEqual([
        'signature',
        'key-not-delegated',
      ]);
    });
    it('refuses the old delegation once the new one was accepted (it would bring the old keys back)', () => {
      const accepted = decideUpdate(state, offer(f.metadata, f.delegation), now);
      expect(accepted.outcome).toBe('accepted');
      const after2 = {
        ...state,
        delegation: {
          version: 2,
          ecdsaPublicKey: b64(rotated.ecdsa.key.publicKey),
          mlDsaPublicKey: b64(rotated.mlDsa.key.publicKey),
        },
      };
      expect(refusal(decideUpdate(after2, offer(f.metadata, f.delegation), now))).toEqual(['stale', 'delegation']);
    });
    it('refuses a second delegation with the same version but other keys', () => {
      const remembered = {
        ...state,
        delegation: {
          version: 2,
          ecdsaPublicKey: b64(f.keys.ecdsa.key.publicKey),
          mlDsaPublicKey: b64(f.keys.mlDsa.key.publicKey),
        },
      };
      expect(refusal(decideUpdate(remembered, offer(f.metadata, delegation2), now))).toEqual([
        'stale',
        'delegation-conflict',
      ]);
    });
    it('mixing one old and one new key is refused (both must be the delegated pair)', async () => {
      const mixed = { ecdsa: f.keys.ecdsa, mlDsa: rotated.mlDsa };
      const m = await signTargets(releaseTargets(testRelease(f.image, { metadataVersion: 6 })), mixed);
      expect(refusal(decideUpdate(state, offer(m, delegation2), now))).toEqual(['signature', 'key-not-delegated']);
    });
  });

  describe('freshness', () => {
    it('refuses metadata older than the last accepted (stale)', () => {
      expect(refusal(decideUpdate({ ...state, lastMetadataVersion: 6 }, offer(), now))).toEqual(['stale', 'metadata']);
    });
    it('refuses expired metadata (freeze attack)', () => {
      expect(refusal(decideUpdate(state, offer(), new Date('2027-06-01T00:00:00Z')))).toEqual(['expired', 'metadata']);
    });
    it('refuses an expired delegation', () => {
      expect(refusal(decideUpdate(state, offer(), new Date('2028-01-01T00:00:01Z')))).toEqual([
        'expired',
        'delegation',
      ]);
    });
  });

  describe('what the release is', () => {
    it('refuses a version not above the installed one (rollback)', async () => {
      expect(refusal(decideUpdate({ ...state, installedVersion: '2.0.0' }, offer(), now))).toEqual([
        'rollback',
        'version',
      ]);
      expect(refusal(decideUpdate({ ...state, installedVersion: '2.0.1' }, offer(), now))).toEqual([
        'rollback',
        'version',
      ]);
      const older = await release({ version: '1.4.1', metadataVersion: 6 });
      expect(refusal(decideUpdate(state, offer(older), now))).toEqual(['rollback', 'version']);
    });
    it("refuses another product's image", () => {
      expect(refusal(decideUpdate({ ...state, product: 'oven-z1' }, offer(), now))).toEqual(['product', 'product']);
    });
    it('refuses malformed documents without throwing', () => {
      expect(refusal(decideUpdate(state, { delegation: '{', metadata: metadataToJson(f.metadata) }, now))).toEqual([
        'malformed',
        'document',
      ]);
      expect(refusal(decideUpdate(state, { delegation: metadataToJson(f.delegation), metadata: '[]' }, now))).toEqual([
        'malformed',
        'document',
      ]);
    });
  });

  describe('after download', () => {
    it('accepts exactly the described image', () => {
      const d = decideUpdate(state, offer(), now);
      if (d.outcome !== 'accepted') throw new Error('expected accepted');
      expect(checkDownloadedImage(d.release, f.image)).toBeUndefined();
    });
    it('refuses an image whose digest differs (digest)', () => {
      const d = decideUpdate(state, offer(), now);
      if (d.outcome !== 'accepted') throw new Error('expected accepted');
      const other = f.image.slice();
      other[1000]! ^= 1;
      expect(checkDownloadedImage(d.release, other)).toEqual({
        outcome: 'refused',
        reason: 'digest',
        detail: 'sha256',
      });
    });
    it('refuses an image whose length differs (length)', () => {
      const d = decideUpdate(state, offer(), now);
      if (d.outcome !== 'accepted') throw new Error('expected accepted');
      expect(checkDownloadedImage(d.release, testImage(f.image.length + 1))).toMatchObject({ reason: 'length' });
    });
  });
});

describe('compareFirmwareVersions', () => {
  it.each([
    ['1.10.0', '1.9.9', 1],
    ['2.0.0', '2.0.0', 0],
    ['2.0', '2.0.0', 0],
    ['2.0.0+build.7', '2.0.0', 0],
    ['2.0.0-rc.1', '2.0.0', -1],
    ['2.0.0-rc.2', '2.0.0-rc.10', -1],
    ['2.0.0-alpha', '2.0.0-1', 1],
    ['10.0.0', '9.99.99', 1],
  ])('%s vs %s -> %i', (a, b, expected) => {
    expect(compareFirmwareVersions(a, b)).toBe(expected);
    expect(compareFirmwareVersions(b, a)).toBe(-expected || 0);
  });
});

function flipHex(hex: string): string {
  const bytes = Buffer.from(hex, 'hex');
  bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
  return bytes.toString('hex');
}
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

describe('decideUpdate with a caller-supplied signature check', () => {
  it('asks it for all three signatures and follows its answer', async () => {
    const f = await signedFixture();
    const state = {
      product: 'fridge-x200',
      installedVersion: '1.0.0',
      lastMetadataVersion: 0,
      platformKey: f.platform.publicKeySpki,
    };
    const offer = { delegation: metadataToJson(f.delegation), metadata: metadataToJson(f.metadata) };
    const asked: string[] = [];
    const d = decideUpdate(state, offer, now, {
      signatureCheck: (key) => {
        asked.push(key.scheme);
        return key.scheme !== 'ml-dsa-65';
      },
    });
    expect(asked).toEqual(['ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp256', 'ml-dsa-65']);
    expect(d).toEqual({ outcome: 'refused', reason: 'signature', detail: 'ml-dsa-65' });
  });
});
