/**
 * The TLS client identity of a device for one connection: its certificate and the private key
 * re-derived from the PUF for this connection only.
 *
 * Why the key is exported at all: node's TLS (OpenSSL) takes a PEM/DER key, not a WebCrypto
 * CryptoKey, and the PUF library hands out only non-extractable CryptoKeys. On Node 20,
 * `KeyObject.from(cryptoKey)` accepts a non-extractable key and its export works (checked on
 * 20.20), so we need neither a private path into @tunnelkey/puf nor an extractable re-derivation.
 * The PKCS#8 bytes exist only while `createSecureContext` copies them into OpenSSL's SSL_CTX; the
 * buffer is zeroed right after (the intermediate PEM string cannot be wiped: JS strings are
 * immutable; it is unreferenced at once). Nothing is written to flash or logged. The secure context
 * (holding the key inside OpenSSL) lives as long as one MQTT client; every new connection attempt
 * re-derives the key, as a real device would after a reset, except a renewal's new key, which the
 * device holds in RAM from its CSR until it has connected with it (SimulatedDevice.withConnectionKey).
 */
import { createSecureContext, type SecureContext } from 'node:tls';
import { KeyObject } from 'node:crypto';
import { DeviceNotConnectableError } from '../errors.js';
import type { SimulatedDevice } from '../simulated-device/simulated-device.js';
import type { StoredConnectionParameters } from '../simulated-device/device-flash.js';
import type { DeviceKeyId } from '../simulated-device/key-ids.js';

export interface DeviceTlsIdentity {
  secureContext: SecureContext;
  /** Milliseconds until the PUF reconstruction + key derivation was done, waiting for a hardware thread included (the bench reports it). */
  deriveMs: number;
}

export async function deviceTlsIdentity(
  device: SimulatedDevice,
  keyId: DeviceKeyId,
  parameters: StoredConnectionParameters,
): Promise<DeviceTlsIdentity> {
  const certificate = device.flash.certificates[keyId];
  if (!certificate)
    throw new DeviceNotConnectableError('the device holds no certificate for its TLS key', {
      deviceId: device.deviceId,
      keyId,
    });
  const started = performance.now();
  return device.withConnectionKey(keyId, async (key) => {
    const deriveMs = performance.now() - started;
    const pkcs8 = Buffer.from(KeyObject.from(key.privateKey).export({ type: 'pkcs8', format: 'pem' }));
    try {
      const secureContext = createSecureContext({
        key: pkcs8,
        // The leaf alone: the target's certificate for this key when it gave one (its broker trusts
        // only its own CA), else the platform certificate (a broker trusting the issuing CA chain).
        cert: parameters.clientCertificatePem ?? certificate.certificatePem,
        ...(parameters.serverCaPem ? { ca: parameters.serverCaPem } : {}),
        minVersion: 'TLSv1.2',
      });
      return { secureContext, deriveMs };
    } finally {
      pkcs8.fill(0);
    }
  });
}
