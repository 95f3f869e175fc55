import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { PufDevice, deriveFirmwareDecryptionKeysFromRead } from '../device/puf-device.js';
import {
  ENROLMENT_CONTEXT,
  FIRMWARE_DECRYPTION_CONTEXT,
  FIRMWARE_KEM_CONTEXT,
  firmwareDecryptionContext,
  firmwareKemContext,
  keyContextLabel,
} from './key-context.js';
import { ML_KEM_768_PUBLIC_KEY_BYTES, deriveMlKemKeyPair } from './ml-kem-key-derivation.js';
import { deriveContextSecret } from './p256-key-derivation.js';

const root = new Uint8Array(32).fill(0x5a);

describe('ML-KEM-768 keys from the PUF (firmware-kem context)', () => {
  it('has its own label, apart from the ECDH firmware-decryption context', () => {
    expect(keyContextLabel(FIRMWARE_KEM_CONTEXT)).toBe('tunnelkey/puf/key/v1/firmware-kem/ml-kem-768');
    expect(deriveContextSecret(root, FIRMWARE_KEM_CONTEXT)).not.toEqual(
      deriveContextSecret(root, FIRMWARE_DECRYPTION_CONTEXT),
    );
  });

  it('regenerates the same pair from the same secret, and decapsulates what was encapsulated to it', () => {
    const secret = deriveContextSecret(root, FIRMWARE_KEM_CONTEXT);
    const a = deriveMlKemKeyPair(secret);
    const b = deriveMlKemKeyPair(secret);
    expect(a.publicKey.length).toBe(ML_KEM_768_PUBLIC_KEY_BYTES);
    expect(Buffer.from(a.publicKey).equals(Buffer.from(b.publicKey))).toBe(true);
    const { cipherText, sharedSecret } = ml_kem768.encapsulate(a.publicKey);
    expect(Buffer.from(b.decapsulate(cipherText)).equals(Buffer.from(sharedSecret))).toBe(true);
    expect(Buffer.from(b.decapsulate(cipherText)).equals(Buffer.from(sharedSecret))).toBe(true);
    b.dispose();
    expect(() => b.decapsulate(cipherText)).toThrow(/disposed/);
  });

  it('a device re-derives both firmware keys from any read, in this thread or from a reserved read', async () => {
    const device = PufDevice.manufacture({ seed: 'spec/firmware-kem/1' });
    const other = PufDevice.manufacture({ seed: 'spec/firmware-kem/2' });
    const record = await device.enrol();
    const first = await device.deriveFirmwareDecryptionKeys(record.helperData);
    const hot = await device.deriveFirmwareDecryptionKeys(record.helperData, { temperatureC: 125, ageYears: 10 });
    const reserved = await deriveFirmwareDecryptionKeysFromRead(device.reserveRead(), record.helperData, {}, [
      ENROLMENT_CONTEXT,
    ]);
    expect(reserved.also[0]!.publicKeySpki).toEqual(record.enrolmentPublicKey);
    for (const keys of [hot, reserved]) {
      expect(Buffer.from(keys.mlKem.publicKey).equals(Buffer.from(first.mlKem.publicKey))).toBe(true);
      expect(keys.ecdh.publicKeySpki).toEqual(first.ecdh.publicKeySpki);
    }
    const ecdhOnly = await device.deriveKey(FIRMWARE_DECRYPTION_CONTEXT, record.helperData);
    expect(first.ecdh.publicKeySpki).toEqual(ecdhOnly.publicKeySpki);
    expect(first.ecdh.algorithm).toBe('ECDH');
    const otherKeys = await other.deriveFirmwareDecryptionKeys((await other.enrol()).helperData);
    expect(Buffer.from(otherKeys.mlKem.publicKey).equals(Buffer.from(first.mlKem.publicKey))).toBe(false);
  });

  it('derives other firmware keys under each owner epoch; epoch 0 keeps the keys devices always had', async () => {
    // Epoch 0: the labels from before ownership transfer, so a never-transferred device's keys do not change.
    expect(keyContextLabel(firmwareDecryptionContext(0))).toBe('tunnelkey/puf/key/v1/firmware-decryption');
    expect(keyContextLabel(firmwareKemContext(0))).toBe('tunnelkey/puf/key/v1/firmware-kem/ml-kem-768');
    expect(keyContextLabel(firmwareDecryptionContext(2))).toBe(
      'tunnelkey/puf/key/v1/owner/epoch/2/firmware-decryption',
    );
    expect(keyContextLabel(firmwareKemContext(2))).toBe('tunnelkey/puf/key/v1/owner/epoch/2/firmware-kem/ml-kem-768');
    const device = PufDevice.manufacture({ seed: 'spec/firmware-kem/epochs' });
    const record = await device.enrol();
    const unnamed = await device.deriveFirmwareDecryptionKeys(record.helperData);
    const derive = (epoch: number) => device.deriveFirmwareDecryptionKeys(record.helperData, {}, [], epoch);
    const [epoch0, epoch1, epoch2, epoch1Again] = [await derive(0), await derive(1), await derive(2), await derive(1)];
    const ecdh = (k: typeof unnamed) => Buffer.from(k.ecdh.publicKeySpki).toString('base64');
    const kem = (k: typeof unnamed) => Buffer.from(k.mlKem.publicKey).toString('base64');
    expect([ecdh(epoch0), kem(epoch0)]).toEqual([ecdh(unnamed), kem(unnamed)]);
    expect([ecdh(epoch1Again), kem(epoch1Again)]).toEqual([ecdh(epoch1), kem(epoch1)]);
    expect(new Set([epoch0, epoch1, epoch2].map(ecdh)).size).toBe(3);
    expect(new Set([epoch0, epoch1, epoch2].map(kem)).size).toBe(3);
    expect(epoch1.mlKem.context).toEqual(firmwareKemContext(1));
    const viaRead = await deriveFirmwareDecryptionKeysFromRead(device.reserveRead(), record.helperData, {}, [], 2);
    expect([ecdh(viaRead), kem(viaRead)]).toEqual([ecdh(epoch2), kem(epoch2)]);
    // An epoch that is no counter is refused before the PUF response is used.
    await expect(device.deriveFirmwareDecryptionKeys(record.helperData, {}, [], -1)).rejects.toThrow(/epoch/);
  });
});
