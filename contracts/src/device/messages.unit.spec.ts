import { ContractViolation } from '../errors.js';
import { maxCsrBytes } from '../primitives.js';
import { deviceMessageDefinitions, findDeviceMessageDefinition, validateDeviceMessage } from './catalog.js';
import { AnnounceMessage, CsrMessage, IdentityResponseMessage } from './messages.js';

const envelope = {
  version: 1,
  deviceId: 'd-7f3a',
  counter: 1,
  nonce: 'AAECAwQFBgcICQoLDA0ODw==',
  sentAt: '2025-01-02T03:04:05.000Z',
  keyId: 'enrolment',
  signature: `${'A'.repeat(86)}==`,
};
const csr = { ...envelope, kind: 'csr', body: { requestId: 'r-1', keyId: 'enrolment', csr: 'MIIB' } };

describe('device messages', () => {
  test('the brief’s messages exist in both directions', () => {
    const kinds = deviceMessageDefinitions.map((d) => `${d.direction}:${d.kind}`);
    expect(kinds).toEqual(
      expect.arrayContaining([
        'uplink:announce',
        'uplink:enrolment-key-report',
        'uplink:identity-response',
        'uplink:csr',
        'downlink:identity-challenge',
        'downlink:certificate',
        'downlink:connection-parameters',
        'downlink:rejection',
        'downlink:enrolment-key-request',
        'downlink:csr-request',
      ]),
    );
    expect(findDeviceMessageDefinition('uplink', 'csr')).toBe(CsrMessage);
    expect(findDeviceMessageDefinition('downlink', 'csr')).toBeUndefined();
  });

  test('identity-proving messages must be signed by the enrolment key', () => {
    const announce = {
      ...envelope,
      kind: 'announce',
      body: { enrolmentPublicKey: 'MFkw', firmwareMeasurement: 'ab'.repeat(32) },
    };
    expect(AnnounceMessage.is(announce)).toBe(true);
    expect(AnnounceMessage.is({ ...announce, keyId: 'tls-1' })).toBe(false);
    const response = {
      ...envelope,
      kind: 'identity-response',
      body: { challengeId: 'c-1', nonce: 'AAECAwQFBgcICQoLDA0ODw==' },
    };
    expect(IdentityResponseMessage.is(response)).toBe(true);
    expect(IdentityResponseMessage.is({ ...response, keyId: 'tls-0' })).toBe(false);
    expect(CsrMessage.is({ ...csr, keyId: 'tls-2' })).toBe(true);
  });

  test('a CSR larger than 16 KiB DER is refused by contract', () => {
    const fits = 'A'.repeat(Math.floor(maxCsrBytes / 3) * 4);
    expect(CsrMessage.is({ ...csr, body: { ...csr.body, csr: fits } })).toBe(true);
    expect(CsrMessage.is({ ...csr, body: { ...csr.body, csr: fits + 'AAAA'.repeat(2) } })).toBe(false);
  });

  test('a TLS-key CSR may carry an attestation by the enrolment key', () => {
    const attested = {
      ...csr,
      body: {
        ...csr.body,
        keyId: 'tls-1',
        keyAttestation: { keyId: 'tls-1', publicKey: 'MFkw', signature: `${'B'.repeat(85)}A==` },
      },
    };
    expect(CsrMessage.is(attested)).toBe(true);
    expect(
      CsrMessage.is({
        ...attested,
        body: { ...attested.body, keyAttestation: { ...attested.body.keyAttestation, keyId: 'enrolment' } },
      }),
    ).toBe(false);
  });

  test('validateDeviceMessage dispatches on kind and direction', () => {
    expect(validateDeviceMessage(csr, 'uplink')).toBe(csr);
    expect(() => validateDeviceMessage(csr, 'downlink')).toThrow(ContractViolation);
    expect(() => validateDeviceMessage({ ...csr, kind: 'nope' }, 'uplink')).toThrow(ContractViolation);
    expect(() => validateDeviceMessage('x', 'uplink')).toThrow(ContractViolation);
    expect(() => validateDeviceMessage({ ...csr, sentAt: 'yesterday' }, 'uplink')).toThrow(/\/sentAt/);
  });
});
