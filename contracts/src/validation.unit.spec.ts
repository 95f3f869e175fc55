import { validateEvent } from './catalog.js';
import { ContractViolation, isContractViolation } from './errors.js';
import { CertificateIssued, DeviceIdentityImported } from './index.js';
// The frozen v1 shape (before owners), which libs/eventstore's suite still appends.
import { ServerPolicyDefinedV1 as ServerPolicyDefined } from './events/server-policy-defined.v1.js';
import { examplePem } from './sample-values.js';

const meta = {
  id: '123e4567-e89b-12d3-a456-426614174000',
  occurredAt: '2025-01-02T03:04:05.000Z',
  causationId: 'cmd-1',
  correlationId: 'corr-1',
};

const policy = {
  type: 'ServerPolicyDefined',
  version: 1,
  aggregateId: 'p1',
  ...meta,
  data: {
    policyId: 'p1',
    name: 'fridges',
    targetIds: ['mosquitto-1'],
    topicRights: [{ topic: 'devices/{deviceId}/#', access: 'publish' }],
    certificateLifetimeDays: 365,
  },
};

function violationOf(run: () => unknown): ContractViolation {
  try {
    run();
  } catch (error) {
    if (isContractViolation(error)) return error;
    throw error;
  }
  throw new Error('expected a ContractViolation');
}

describe('ServerPolicyDefined v1 (frozen shape)', () => {
  test('accepts the shape libs/eventstore writes', () => {
    expect(validateEvent(policy)).toBe(policy);
    expect(ServerPolicyDefined.is(policy)).toBe(true);
  });

  test('keeps exactly its five data fields', () => {
    const data = ServerPolicyDefined.data;
    expect(Object.keys(data.properties).sort()).toEqual([
      'certificateLifetimeDays',
      'name',
      'policyId',
      'targetIds',
      'topicRights',
    ]);
    expect(data.required?.slice().sort()).toEqual([
      'certificateLifetimeDays',
      'name',
      'policyId',
      'targetIds',
      'topicRights',
    ]);
  });

  test('refuses a lifetime out of range, an empty rights list, an unknown access', () => {
    expect(ServerPolicyDefined.is({ ...policy, data: { ...policy.data, certificateLifetimeDays: 0 } })).toBe(false);
    expect(ServerPolicyDefined.is({ ...policy, data: { ...policy.data, topicRights: [] } })).toBe(false);
    expect(
      ServerPolicyDefined.is({ ...policy, data: { ...policy.data, topicRights: [{ topic: 't', access: 'admin' }] } }),
    ).toBe(false);
  });
});

describe('ContractViolation', () => {
  const secret = 'S3CRET-k3y-MATERIAL-do-not-log';

  test('names the failing paths and never the values', () => {
    const bad = {
      ...policy,
      causationId: secret.repeat(10),
      data: { ...policy.data, name: `${secret}\n`, targetIds: [secret + '.x'], certificateLifetimeDays: secret },
    };
    const error = violationOf(() => validateEvent(bad));
    expect(error.name).toBe('ContractViolation');
    expect(error.code).toBe('CONTRACT_VIOLATION');
    expect(error.message).toContain('ServerPolicyDefined v1');
    expect(error.details.length).toBeGreaterThan(0);
    expect(error.details.map((d) => d.path)).toEqual(expect.arrayContaining(['/causationId']));
    expect(error.message).not.toContain(secret);
    expect(JSON.stringify(error.details)).not.toContain(secret);
  });

  test('hides sender-chosen property names that do not look like identifiers', () => {
    const key = '-----BEGIN PRIVATE KEY-----MIGHAgEAMBMG';
    const error = violationOf(() => ServerPolicyDefined.parse({ ...policy, data: { ...policy.data, [key]: 1 } }));
    expect(error.message).not.toContain('PRIVATE');
    expect(error.details).toContainEqual({ path: '/data/~', message: 'Unexpected property' });
  });

  test('says why a union failed, from its closest variant', () => {
    const error = violationOf(() =>
      ServerPolicyDefined.parse({
        ...policy,
        data: { ...policy.data, topicRights: [{ topic: 't', access: 'admin' }] },
      }),
    );
    expect(error.details[0]?.path).toBe('/data/topicRights/0/access');
  });

  test('an unknown type is refused without echoing it', () => {
    expect(() => validateEvent({ ...policy, type: 'NoSuchEvent' })).toThrow('unknown event NoSuchEvent v1');
    const error = violationOf(() => validateEvent({ ...policy, type: `${secret} event` }));
    expect(error.message).not.toContain(secret);
    expect(() => validateEvent(null)).toThrow(ContractViolation);
    expect(() => validateEvent({ type: 'ServerPolicyDefined' })).toThrow(ContractViolation);
  });
});

describe('payload patterns', () => {
  const imported = {
    type: 'DeviceIdentityImported',
    version: 1,
    aggregateId: 'd-7f3a',
    ...meta,
    data: {
      deviceId: 'd-7f3a',
      batchId: 'b-1',
      importId: 'i-1',
      source: 'csv',
      enrolmentPublicKey: 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE',
      enrolmentKeyDigest: 'ab'.repeat(32),
    },
  };

  test('base64 SPKI, hex digest and metadata are checked', () => {
    expect(DeviceIdentityImported.is(imported)).toBe(true);
    const d = imported.data;
    expect(DeviceIdentityImported.is({ ...imported, data: { ...d, enrolmentPublicKey: 'not base64!' } })).toBe(false);
    expect(
      DeviceIdentityImported.is({
        ...imported,
        data: { ...d, enrolmentPublicKey: 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgA' },
      }),
    ).toBe(false);
    expect(DeviceIdentityImported.is({ ...imported, data: { ...d, enrolmentKeyDigest: 'AB'.repeat(32) } })).toBe(false);
    expect(DeviceIdentityImported.is({ ...imported, data: { ...d, enrolmentKeyDigest: 'ab'.repeat(31) } })).toBe(false);
    expect(DeviceIdentityImported.is({ ...imported, data: { ...d, metadata: { site: 'berlin' } } })).toBe(true);
    expect(DeviceIdentityImported.is({ ...imported, data: { ...d, metadata: { 'bad key': 'x' } } })).toBe(false);
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, 'v']));
    expect(DeviceIdentityImported.is({ ...imported, data: { ...d, metadata: many } })).toBe(false);
    expect(DeviceIdentityImported.is({ ...imported, data: { ...d, deviceId: 'd>7f' } })).toBe(false);
  });

  test('certificates are PEM certificates, never a private key', () => {
    const issued = {
      type: 'CertificateIssued',
      version: 1,
      aggregateId: 'd-7f3a',
      ...meta,
      data: {
        deviceId: 'd-7f3a',
        requestId: 'r-1',
        authorityId: 'issuing-acme',
        serialNumber: '7f3a0b',
        subject: 'CN=d-7f3a',
        issuer: 'CN=tunnelkey issuing acme',
        notBefore: '2025-01-01T00:00:00Z',
        notAfter: '2026-01-01T00:00:00Z',
        fingerprintSha256: 'cd'.repeat(32),
        publicKeyDigest: 'ef'.repeat(32),
        keyId: 'tls-1',
        certificatePem: examplePem,
        chainPem: [examplePem],
      },
    };
    expect(CertificateIssued.is(issued)).toBe(true);
    const privatePem = examplePem.replace(/CERTIFICATE/g, 'PRIVATE KEY');
    expect(CertificateIssued.is({ ...issued, data: { ...issued.data, certificatePem: privatePem } })).toBe(false);
    expect(CertificateIssued.is({ ...issued, data: { ...issued.data, chainPem: [examplePem, privatePem] } })).toBe(
      false,
    );
    expect(CertificateIssued.is({ ...issued, data: { ...issued.data, chainPem: [] } })).toBe(false);
    expect(CertificateIssued.is({ ...issued, data: { ...issued.data, serialNumber: '7F3A' } })).toBe(false);
    expect(CertificateIssued.is({ ...issued, data: { ...issued.data, serialNumber: 'ab'.repeat(21) } })).toBe(false);
    expect(CertificateIssued.is({ ...issued, data: { ...issued.data, keyId: 'tls-01' } })).toBe(false);
    expect(CertificateIssued.is({ ...issued, data: { ...issued.data, subject: 'CN=a\nCN=b' } })).toBe(false);
  });
});
