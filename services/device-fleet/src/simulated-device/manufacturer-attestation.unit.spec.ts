import { generateKeyPairSync, verify } from 'node:crypto';
import { manufacturerAttestationBytes } from '@tunnelkey/contracts';
import { InvalidFleetOptionError } from '../errors.js';
import { flashToJson, parseFlash } from './device-flash.js';
import { attestEnrolmentKey, manufacturerKey, manufacturerPublicKeyBase64 } from './manufacturer-attestation.js';
import { SimulatedDevice } from './simulated-device.js';

// Issue 14, finding 7: a factory signs each device's enrolment key with its manufacturer key.
describe('manufacturer attestation', () => {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pkcs8Pem = pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const pkcs8Der = pair.privateKey.export({ format: 'der', type: 'pkcs8' });

  it("signs the device's enrolment key so that the manufacturer's public key verifies it", async () => {
    const device = await SimulatedDevice.manufacture({ seed: 'attested-1', transport: { publish: () => undefined } });
    const key = manufacturerKey('factory-1', pkcs8Pem);
    const attestation = attestEnrolmentKey(key, device.flash.enrolmentPublicKey);
    expect(attestation.keyId).toBe('factory-1');
    const statement = manufacturerAttestationBytes({
      enrolmentPublicKey: Buffer.from(device.flash.enrolmentPublicKey).toString('base64'),
    });
    const publicKey = {
      key: Buffer.from(manufacturerPublicKeyBase64(key), 'base64'),
      format: 'der',
      type: 'spki',
    } as const;
    const signature = Buffer.from(attestation.signature, 'base64');
    expect(verify('sha256', statement, { ...publicKey, dsaEncoding: 'ieee-p1363' }, signature)).toBe(true);
    // Over another key it does not verify.
    const other = manufacturerAttestationBytes({ enrolmentPublicKey: Buffer.from('other').toString('base64') });
    expect(verify('sha256', other, { ...publicKey, dsaEncoding: 'ieee-p1363' }, signature)).toBe(false);
    // PKCS#8 DER gives the same key.
    expect(manufacturerPublicKeyBase64(manufacturerKey('factory-1', pkcs8Der))).toBe(manufacturerPublicKeyBase64(key));
  });

  it('is kept in flash across a reboot', async () => {
    const device = await SimulatedDevice.manufacture({ seed: 'attested-2', transport: { publish: () => undefined } });
    device.flash.manufacturerAttestation = attestEnrolmentKey(
      manufacturerKey('factory-1', pkcs8Pem),
      device.flash.enrolmentPublicKey,
    );
    expect(parseFlash(flashToJson(device.flash)).manufacturerAttestation).toEqual(device.flash.manufacturerAttestation);
    const { manufacturerAttestation: _, ...unattested } = device.flash;
    expect(parseFlash(flashToJson(unattested)).manufacturerAttestation).toBeUndefined();
  });

  it('refuses a key that is not P-256 PKCS#8, or a bad id, without quoting the key', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' });
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ format: 'pem', type: 'pkcs8' });
    for (const bad of [rsa.toString(), p384.toString(), 'not a key', new Uint8Array([1, 2, 3])]) {
      expect(() => manufacturerKey('factory-1', bad)).toThrow(InvalidFleetOptionError);
    }
    expect(() => manufacturerKey('no spaces', pkcs8Pem)).toThrow(InvalidFleetOptionError);
    try {
      manufacturerKey('factory-1', rsa.toString());
    } catch (error) {
      expect(JSON.stringify(error) + String(error)).not.toContain('PRIVATE KEY');
    }
  });
});
