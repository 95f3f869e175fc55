import { InvalidPkiInputError } from '../errors.js';
import { BasicConstraints } from './basic-constraints.js';
import { CrlDistributionPoints } from './crl-distribution-points.js';
import { ExtendedKeyUsage } from './extended-key-usage.js';
import { AuthorityKeyIdentifier, SubjectKeyIdentifier } from './key-identifiers.js';
import { KeyUsage } from './key-usage.js';
import { deviceIdFromUri, deviceUri, SubjectAltName } from './subject-alt-name.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('extensions: typed constructor -> DER (known answers) -> fromDer', () => {
  it('KeyUsage encodes a DER named bit list (trailing zero bits dropped)', () => {
    expect(hex(KeyUsage.of(['digitalSignature']).toDer())).toBe('03020780');
    expect(hex(KeyUsage.of(['keyCertSign', 'cRLSign']).toDer())).toBe('03020106');
    expect(hex(KeyUsage.of(['digitalSignature', 'keyCertSign', 'cRLSign']).toDer())).toBe('03020186');
    expect(hex(KeyUsage.of(['decipherOnly']).toDer())).toBe('0303070080');
    const back = KeyUsage.fromDer(KeyUsage.of(['digitalSignature', 'cRLSign', 'decipherOnly']).toDer());
    expect(back.usages).toEqual(['digitalSignature', 'cRLSign', 'decipherOnly']);
    expect(KeyUsage.of(['digitalSignature']).critical).toBe(true);
  });

  it('BasicConstraints: leaf is an empty SEQUENCE, CA carries TRUE and pathLen', () => {
    expect(hex(BasicConstraints.of({ ca: false }).toDer())).toBe('3000');
    expect(hex(BasicConstraints.of({ ca: true, pathLength: 0 }).toDer())).toBe('30060101ff020100');
    expect(BasicConstraints.fromDer(BasicConstraints.of({ ca: true, pathLength: 1 }).toDer())).toMatchObject({
      ca: true,
      pathLength: 1,
    });
    expect(() => BasicConstraints.of({ ca: false, pathLength: 0 })).toThrow(InvalidPkiInputError);
  });

  it('ExtendedKeyUsage clientAuth / serverAuth', () => {
    expect(hex(ExtendedKeyUsage.of(['clientAuth']).toDer())).toBe('300a06082b06010505070302');
    const both = ExtendedKeyUsage.fromDer(ExtendedKeyUsage.of(['clientAuth', 'serverAuth']).toDer());
    expect(both.purposes).toEqual(['clientAuth', 'serverAuth']);
    expect(both.has('serverAuth')).toBe(true);
  });

  it('SubjectAltName with the device URI and optional DNS names', () => {
    const san = SubjectAltName.forDevice('d-7f3a', ['gw1.example.com']);
    expect(hex(SubjectAltName.of({ uris: ['urn:x:y'] }).toDer())).toBe(
      '30098607' + Buffer.from('urn:x:y').toString('hex'),
    );
    const back = SubjectAltName.fromDer(san.toDer());
    expect(back.uris).toEqual(['urn:tunnelkey:device:d-7f3a']);
    expect(back.dnsNames).toEqual(['gw1.example.com']);
    expect(deviceIdFromUri(back.uris[0]!)).toBe('d-7f3a');
    expect(deviceIdFromUri('urn:other:d-7f3a')).toBeUndefined();
    expect(() => deviceUri('')).toThrow(InvalidPkiInputError);
    expect(() => deviceUri('a'.repeat(65))).toThrow(InvalidPkiInputError);
    expect(() => SubjectAltName.of({ dnsNames: ['bad host'] })).toThrow(InvalidPkiInputError);
    expect(() => SubjectAltName.of({ uris: ['no-scheme'] })).toThrow(InvalidPkiInputError);
  });

  it('SubjectKeyIdentifier / AuthorityKeyIdentifier (keyIdentifier form)', () => {
    const id = new Uint8Array(20).fill(0xab);
    expect(hex(SubjectKeyIdentifier.of(id).toDer())).toBe('0414' + 'ab'.repeat(20));
    expect(hex(AuthorityKeyIdentifier.of(id).toDer())).toBe('30168014' + 'ab'.repeat(20));
    expect(SubjectKeyIdentifier.fromDer(SubjectKeyIdentifier.of(id).toDer()).hex).toBe('ab'.repeat(20));
    expect(AuthorityKeyIdentifier.fromDer(AuthorityKeyIdentifier.of(id).toDer()).hex).toBe('ab'.repeat(20));
  });

  it('CRLDistributionPoints with an http URL', () => {
    const url = 'http://ca.local/crl/acme.crl';
    const der = CrlDistributionPoints.of([url]).toDer();
    expect(hex(der)).toBe(
      `30${(url.length + 8).toString(16)}30${(url.length + 6).toString(16)}a0${(url.length + 4).toString(16)}a0${(url.length + 2).toString(16)}86${url.length.toString(16)}${Buffer.from(url).toString('hex')}`,
    );
    expect(CrlDistributionPoints.fromDer(der).urls).toEqual([url]);
    expect(() => CrlDistributionPoints.of(['https://ca.local/crl'])).toThrow(InvalidPkiInputError);
    expect(() => CrlDistributionPoints.of(['not a url'])).toThrow(InvalidPkiInputError);
  });
});
