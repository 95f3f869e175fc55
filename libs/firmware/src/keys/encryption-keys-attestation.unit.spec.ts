import { generateKeyPairSync, sign } from 'node:crypto';
import { encryptionKeysAttestationBytes, encryptionKeysAttestationValid } from './encryption-keys-attestation.js';

describe('encryption-keys attestation (the enrolment key vouching for the two KEM public keys)', () => {
  const enrolment = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const enrolmentSpki = new Uint8Array(enrolment.publicKey.export({ format: 'der', type: 'spki' }));
  const statement = { deviceId: 'd-abc', ecdhPublicKey: 'RUNESA==', mlKemPublicKey: 'TUwtS0VN' };
  const signature = sign('sha256', encryptionKeysAttestationBytes(statement), {
    key: enrolment.privateKey,
    dsaEncoding: 'ieee-p1363',
  }).toString('base64');

  it('verifies under the enrolment key', () => {
    expect(encryptionKeysAttestationValid(statement, signature, enrolmentSpki)).toBe(true);
  });

  it.each([
    ['another device', { ...statement, deviceId: 'd-abd' }],
    ['another ECDH key', { ...statement, ecdhPublicKey: 'RUNESB==' }],
    ['another ML-KEM key', { ...statement, mlKemPublicKey: 'TUwtS0VO' }],
    ['another owner epoch', { ...statement, ownerEpoch: 1 }],
  ])('does not verify for %s', (_, other) => {
    expect(encryptionKeysAttestationValid(other, signature, enrolmentSpki)).toBe(false);
  });

  it('binds the owner epoch from epoch 1 on; epoch 0 signs the bytes it always did', () => {
    expect(encryptionKeysAttestationValid({ ...statement, ownerEpoch: 0 }, signature, enrolmentSpki)).toBe(true);
    expect(Buffer.from(encryptionKeysAttestationBytes({ ...statement, ownerEpoch: 0 })).toString()).not.toContain(
      'ownerEpoch',
    );
    const epoch2 = { ...statement, ownerEpoch: 2 };
    const signed2 = sign('sha256', encryptionKeysAttestationBytes(epoch2), {
      key: enrolment.privateKey,
      dsaEncoding: 'ieee-p1363',
    }).toString('base64');
    expect(encryptionKeysAttestationValid(epoch2, signed2, enrolmentSpki)).toBe(true);
    expect(encryptionKeysAttestationValid({ ...statement, ownerEpoch: 1 }, signed2, enrolmentSpki)).toBe(false);
    expect(encryptionKeysAttestationValid(statement, signed2, enrolmentSpki)).toBe(false);
  });

  it('does not verify under another key, nor throw on garbage', () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({
      format: 'der',
      type: 'spki',
    });
    expect(encryptionKeysAttestationValid(statement, signature, new Uint8Array(other))).toBe(false);
    expect(encryptionKeysAttestationValid(statement, 'not base64!', enrolmentSpki)).toBe(false);
    expect(encryptionKeysAttestationValid(statement, signature, new Uint8Array(3))).toBe(false);
  });
});
