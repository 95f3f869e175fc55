import { Key, Metadata, MetadataKind, Targets } from '@tufjs/models';
import { FirmwareFormatError } from '../errors.js';
import { tufKeyOf } from '../keys/signing-keys.js';
import { signedFixture, type SignedFixture } from '../testing/firmware-fixture.test-helper.js';
import { opensslVerifies } from '../testing/openssl.test-helper.js';
import { platformKeyId } from './delegation.js';
import { releaseTargets } from './release-metadata.js';
import { FIRMWARE_ROLE, metadataToJson, parseTufMetadata, signingBytes, type TufMetadata } from './tuf-metadata.js';

const hexBytes = (hex: string) => new Uint8Array(Buffer.from(hex, 'hex'));
const sigOf = (m: TufMetadata, keyid: string) => hexBytes(m.signatures.find((s) => s.keyid === keyid)!.sig);

describe('release metadata and delegation (TUF targets)', () => {
  let f: SignedFixture;
  beforeAll(async () => {
    f = await signedFixture();
  });

  it('a release is TUF targets metadata for one image: length, sha256, product/version under custom', () => {
    const { signed } = f.metadata;
    expect(signed._type).toBe('targets');
    expect(signed.version).toBe(5);
    expect(signed.expires).toBe('2027-06-01T00:00:00Z');
    expect(Object.keys(signed.targets)).toEqual(['fridge-x200/2.0.0']);
    expect(signed.targets['fridge-x200/2.0.0']).toMatchObject({
      length: f.image.length,
      custom: { tunnelkey: { product: 'fridge-x200', version: '2.0.0', firmwareId: 'fw-fridge-2-0-0' } },
    });
    expect(f.metadata.signatures.map((s) => s.keyid)).toEqual([f.keys.ecdsa.key.keyid, f.keys.mlDsa.key.keyid]);
  });

  it("the release's ECDSA signature verifies with openssl dgst -sha256 -verify", async () => {
    const bytes = signingBytes(f.metadata.signed);
    const sig = sigOf(f.metadata, f.keys.ecdsa.key.keyid);
    expect(await opensslVerifies(f.keys.ecdsa.key.publicKey, bytes, sig)).toBe(true);
    const other = new Uint8Array(bytes);
    other[10]! ^= 1;
    expect(await opensslVerifies(f.keys.ecdsa.key.publicKey, other, sig)).toBe(false);
  });

  it("the delegation's platform signature verifies with openssl dgst -sha256 -verify", async () => {
    const sig = sigOf(f.delegation, platformKeyId(f.platform.publicKeySpki));
    expect(await opensslVerifies(f.platform.publicKeySpki, signingBytes(f.delegation.signed), sig)).toBe(true);
  });

  it('standard TUF tooling (@tufjs/models) reads both documents and checks the ECDSA signatures itself', () => {
    const release = Metadata.fromJSON(MetadataKind.Targets, JSON.parse(metadataToJson(f.metadata)));
    const delegation = Metadata.fromJSON(MetadataKind.Targets, JSON.parse(metadataToJson(f.delegation)));
    expect(release.signed).toBeInstanceOf(Targets);
    expect(release.signed.targets['fridge-x200/2.0.0']?.length).toBe(f.image.length);
    const role = delegation.signed.delegations?.roles?.[FIRMWARE_ROLE];
    expect(role?.keyIDs).toEqual([f.keys.ecdsa.key.keyid, f.keys.mlDsa.key.keyid]);
    expect(role?.threshold).toBe(2);
    // tufjs canonicalises `signed` itself (OLPC canonical JSON): same bytes as ours, or this throws.
    const firmwareKey = delegation.signed.delegations!.keys[f.keys.ecdsa.key.keyid]!;
    expect(() => firmwareKey.verifySignature(release)).not.toThrow();
    const platform = tufKeyOf('ecdsa-sha2-nistp256', f.platform.publicKeySpki);
    const platformKey = Key.fromJSON(platformKeyId(f.platform.publicKeySpki), { ...platform });
    expect(() => platformKey.verifySignature(delegation)).not.toThrow();
    expect(() => platformKey.verifySignature(release)).toThrow();
  });

  it('parses back exactly what was signed', () => {
    expect(parseTufMetadata(metadataToJson(f.metadata))).toEqual(f.metadata);
    expect(parseTufMetadata(metadataToJson(f.delegation))).toEqual(f.delegation);
  });

  it.each([
    ['not JSON', '{'],
    ['no signed part', '{"signatures":[]}'],
    ['another TUF type', JSON.stringify({ signatures: [], signed: { _type: 'root' } })],
    ['a float version', (m: TufMetadata) => ({ ...m, signed: { ...m.signed, version: 1.5 } })],
    ['a length of zero', (m: TufMetadata) => ({ ...m, signed: { ...m.signed, targets: { a: { length: 0 } } } })],
    [
      'an expiry with milliseconds',
      (m: TufMetadata) => ({ ...m, signed: { ...m.signed, expires: '2027-06-01T00:00:00.000Z' } }),
    ],
    [
      'an uppercase digest',
      (m: TufMetadata) =>
        JSON.parse(
          JSON.stringify(m).replace(/"sha256":"([0-9a-f]+)"/, (_, h: string) => `"sha256":"${h.toUpperCase()}"`),
        ),
    ],
    ['a non-hex signature', (m: TufMetadata) => ({ ...m, signatures: [{ keyid: m.signatures[0]!.keyid, sig: 'zz' }] })],
  ])('refuses %s with FirmwareFormatError', (_, input) => {
    const value = typeof input === 'function' ? JSON.stringify(input(f.metadata)) : input;
    expect(() => parseTufMetadata(value)).toThrow(FirmwareFormatError);
  });

  it('refuses to describe a release with unsafe names or a non-digest', () => {
    const base = {
      firmwareId: 'fw-1',
      product: 'p',
      version: '1.0.0',
      imageSha256: 'a'.repeat(64),
      length: 1,
      metadataVersion: 1,
      expires: '2030-01-01T00:00:00Z',
    };
    expect(() => releaseTargets({ ...base, product: 'p/../q' })).toThrow(FirmwareFormatError);
    expect(() => releaseTargets({ ...base, version: 'v"1' })).toThrow(FirmwareFormatError);
    expect(() => releaseTargets({ ...base, imageSha256: 'A'.repeat(64) })).toThrow(FirmwareFormatError);
    expect(() => releaseTargets({ ...base, metadataVersion: 0 })).toThrow(FirmwareFormatError);
    expect(() => releaseTargets({ ...base, expires: 'soon' })).toThrow(FirmwareFormatError);
  });
});
