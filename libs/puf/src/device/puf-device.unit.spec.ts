import { webcrypto } from 'node:crypto';
import { recoverRootSecret } from '../extractor/fuzzy-extractor.js';
import { parseHelperData } from '../extractor/helper-data.js';
import { deviceIdMatchesPublicKey } from '../keys/device-identity.js';
import {
  ENROLMENT_CONTEXT,
  FIRMWARE_DECRYPTION_CONTEXT,
  KeyContext,
  ownerContext,
  tlsContext,
} from '../keys/key-context.js';
import { deriveContextSecret, p256ScalarFromSecret } from '../keys/p256-key-derivation.js';
import { KeyCheckMismatchError, isPufError } from '../errors.js';
import { TEMPERATURE_CORNERS_C } from '../simulation/operating-conditions.js';
import { PufDevice, deriveKeysFromRead, enrolmentRecordToJson } from './puf-device.js';

const contexts: KeyContext[] = [ENROLMENT_CONTEXT, tlsContext(1), ownerContext(2), FIRMWARE_DECRYPTION_CONTEXT];

describe.each(['sram', 'tunnelling'] as const)('PufDevice (%s)', (profile) => {
  describe('when enrolled', () => {
    const devices = Array.from({ length: 4 }, (_, i) =>
      PufDevice.manufacture({ seed: `spec/${profile}/${i}`, profile }),
    );

    it('reproduces the same keys at -40, +25 and +125 C (and +/-10 % supply) after 10 simulated years', async () => {
      for (const device of devices) {
        const record = await device.enrol();
        expect(deviceIdMatchesPublicKey(record.deviceId, record.enrolmentPublicKey)).toBe(true);
        const baseline = await device.deriveKeys(contexts, record.helperData);
        expect(baseline[0]!.publicKeySpki).toEqual(record.enrolmentPublicKey);
        for (const temperatureC of TEMPERATURE_CORNERS_C) {
          for (const voltageDelta of [-0.1, 0.1]) {
            const keys = await device.deriveKeys(contexts, record.helperData, {
              temperatureC,
              voltageDelta,
              ageYears: 10,
            });
            keys.forEach((k, i) => expect(k.publicKeySpki).toEqual(baseline[i]!.publicKeySpki));
          }
        }
      }
    });

    it('signs with the derived enrolment key so the platform can verify with the registered public key', async () => {
      const device = devices[0]!;
      const record = await device.enrol();
      const key = await device.deriveKey(ENROLMENT_CONTEXT, record.helperData, { temperatureC: 125, ageYears: 10 });
      const msg = Buffer.from('dev.x.hello');
      const sig = await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key.privateKey, msg);
      const registered = await webcrypto.subtle.importKey(
        'spki',
        record.enrolmentPublicKey,
        { name: 'ECDSA', namedCurve: 'P-256' },
        false,
        ['verify'],
      );
      expect(await webcrypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, registered, sig, msg)).toBe(true);
    });

    it('rejects tampered helper data with a typed error instead of another key', async () => {
      const device = devices[1]!;
      const record = await device.enrol();
      const tampered = record.helperData.slice();
      tampered[100]! ^= 0x10;
      await expect(device.deriveKey(ENROLMENT_CONTEXT, tampered)).rejects.toBeInstanceOf(KeyCheckMismatchError);
    });

    it('rejects helper data of another device', async () => {
      const [a, b] = [devices[2]!, devices[3]!];
      const recordA = await a.enrol();
      const err = await b.deriveKey(ENROLMENT_CONTEXT, recordA.helperData).catch((e: unknown) => e);
      expect(isPufError(err)).toBe(true);
    });
  });

  describe('when a read is reserved and performed elsewhere (another thread standing for its hardware)', () => {
    const corner = { temperatureC: 125, ageYears: 10 };

    it('gives the keys deriveKeys gives, and moves the read counter as a read here would', async () => {
      const [here, elsewhere] = [0, 1].map(() => PufDevice.manufacture({ seed: `reserved/${profile}`, profile }));
      const record = await here!.enrol();
      await elsewhere!.enrol();
      const read = structuredClone(elsewhere!.reserveRead());
      const [local, remote] = await Promise.all([
        here!.deriveKeys(contexts, record.helperData, corner),
        deriveKeysFromRead(read, contexts, record.helperData, corner),
      ]);
      remote.forEach((k, i) => expect(k.publicKeySpki).toEqual(local[i]!.publicKeySpki));
      expect(remote[0]!.publicKeySpki).toEqual(record.enrolmentPublicKey);
      expect(remote[0]!.privateKey.extractable).toBe(false);
      // The next reads of the twins are the same noisy read: the reserved one was not repeated.
      expect(elsewhere!.readResponse(corner)).toEqual(here!.readResponse(corner));
    });

    it('refuses tampered helper data with the same typed error', async () => {
      const device = PufDevice.manufacture({ seed: `reserved-tampered/${profile}`, profile });
      const tampered = (await device.enrol()).helperData.slice();
      tampered[100]! ^= 0x10;
      await expect(deriveKeysFromRead(device.reserveRead(), [ENROLMENT_CONTEXT], tampered)).rejects.toBeInstanceOf(
        KeyCheckMismatchError,
      );
    });
  });

  describe('its flash record', () => {
    it('contains no private key, root secret or context secret (raw, hex, base64 searched)', async () => {
      const device = PufDevice.manufacture({ seed: `flash/${profile}`, profile });
      const record = await device.enrol();
      const json = Buffer.from(enrolmentRecordToJson(record));
      const binary = Buffer.concat([record.helperData, record.enrolmentPublicKey, Buffer.from(record.deviceId)]);
      // Rebuild the secrets the way the device does, to know what to search for.
      const root = recoverRootSecret(device.readResponse(), parseHelperData(record.helperData));
      const needles: Buffer[] = [Buffer.from(root)];
      for (const c of contexts) {
        const secret = deriveContextSecret(root, c);
        needles.push(Buffer.from(secret), p256ScalarFromSecret(secret));
      }
      for (const needle of needles) {
        expect(needle.length).toBe(32);
        for (const haystack of [json, binary]) {
          for (const form of [
            needle,
            Buffer.from(needle.toString('hex')),
            Buffer.from(needle.toString('base64')),
            Buffer.from(needle.toString('base64url')),
          ]) {
            expect(haystack.indexOf(form)).toBe(-1);
          }
          // Not even an 8-byte fragment of a secret appears.
          for (let i = 0; i + 8 <= needle.length; i += 4) expect(haystack.indexOf(needle.subarray(i, i + 8))).toBe(-1);
        }
      }
      // The search can fail: the public key is found where it is stored.
      expect(binary.indexOf(Buffer.from(record.enrolmentPublicKey))).toBeGreaterThanOrEqual(0);
    });
  });
});
