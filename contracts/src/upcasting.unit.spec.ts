import { validateEvent } from './catalog.js';
import { ContractViolation, UpcastError } from './errors.js';
import { DeviceConnectedV1 } from './events/device-connected.v1.js';
import {
  DeviceConnected,
  DeviceFirmwareKeysRecorded,
  DeviceFirmwareKeysRecordedV1,
  defaultOwnerId,
  ServerPolicyDefined,
  ServerPolicyDefinedV1,
  TargetRegistered,
} from './index.js';
import { sampleValue } from './sample-values.js';
import { upcastEvent } from './upcasting.js';

const meta = {
  id: '123e4567-e89b-12d3-a456-426614174000',
  aggregateId: 'd-7f3a',
  occurredAt: '2025-01-02T03:04:05.000Z',
  causationId: 'cmd-1',
  correlationId: 'corr-1',
};
const connectedV1 = {
  type: 'DeviceConnected',
  version: 1,
  ...meta,
  data: { deviceId: 'd-7f3a', targetId: 'mosquitto-1', clientId: 'd-7f3a', connectedAt: '2025-01-02T03:04:05.000Z' },
};

describe('DeviceConnected v1 -> v2', () => {
  test('a stored v1 is still valid as v1, and not as v2', () => {
    expect(validateEvent(connectedV1)).toBe(connectedV1);
    expect(DeviceConnectedV1.is(connectedV1)).toBe(true);
    expect(DeviceConnected.is({ ...connectedV1, version: 2 })).toBe(false);
  });

  test('upcasts with tlsProtocol and cipher set to the documented default `unknown`', () => {
    const upcast = upcastEvent(connectedV1);
    expect(upcast).toEqual({
      ...connectedV1,
      version: 2,
      data: { ...connectedV1.data, tlsProtocol: 'unknown', cipher: 'unknown' },
    });
    expect(DeviceConnected.is(upcast)).toBe(true);
  });

  test('leaves the stored event untouched', () => {
    const before = structuredClone(connectedV1);
    upcastEvent(connectedV1);
    expect(connectedV1).toEqual(before);
  });

  test('a current v2 passes through as it is', () => {
    const v2 = {
      ...connectedV1,
      version: 2,
      data: { ...connectedV1.data, tlsProtocol: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256' },
    };
    expect(upcastEvent(v2)).toBe(v2);
  });

  test('an event at its current version passes through', () => {
    const policy = ServerPolicyDefined.create({
      ...meta,
      aggregateId: 'p1',
      data: {
        policyId: 'p1',
        name: 'n',
        targetIds: [],
        topicRights: [{ topic: 't', access: 'publish' }],
        certificateLifetimeDays: 1,
        ownerId: 'acme',
      },
    });
    expect(upcastEvent(policy)).toBe(policy);
  });

  test('an invalid stored v1 is refused before upcasting', () => {
    expect(() => upcastEvent({ ...connectedV1, data: { ...connectedV1.data, extra: 1 } })).toThrow(ContractViolation);
    expect(() => upcastEvent({ ...connectedV1, version: 3 })).toThrow(ContractViolation);
  });

  test('UpcastError is a typed error', () => {
    const error = new UpcastError('x', { cause: new Error('y') });
    expect(error).toMatchObject({ name: 'UpcastError', code: 'UPCAST_FAILED' });
    expect(error.cause).toBeInstanceOf(Error);
  });
});

// Owners became first-class (issue 17): what was recorded before belongs to the default owner.
describe('ServerPolicyDefined v1 -> v2 and TargetRegistered v1 -> v2 (owners)', () => {
  const policyV1 = {
    type: 'ServerPolicyDefined',
    version: 1,
    ...meta,
    aggregateId: 'p1',
    data: {
      policyId: 'p1',
      name: 'fridges',
      targetIds: ['mosquitto-1'],
      topicRights: [{ topic: 'devices/{deviceId}/#', access: 'publish' }],
      certificateLifetimeDays: 365,
    },
  };
  const targetV1 = {
    type: 'TargetRegistered',
    version: 1,
    ...meta,
    aggregateId: 'mosquitto-1',
    data: {
      targetId: 'mosquitto-1',
      kind: 'mosquitto',
      name: 'broker',
      host: '127.0.0.1',
      tlsPort: 8883,
      credentialsRef: 'mosquitto-1',
    },
  };

  test('a stored v1 is still valid as v1, and not as v2 (the owner is required now)', () => {
    expect(ServerPolicyDefinedV1.is(policyV1)).toBe(true);
    expect(ServerPolicyDefined.is({ ...policyV1, version: 2 })).toBe(false);
    expect(validateEvent(targetV1)).toBe(targetV1);
    expect(TargetRegistered.is({ ...targetV1, version: 2 })).toBe(false);
  });

  test('a v1 policy and a v1 target upcast to the documented default owner', () => {
    expect(defaultOwnerId).toBe('default');
    const policy = upcastEvent(policyV1);
    expect(policy).toEqual({ ...policyV1, version: 2, data: { ...policyV1.data, ownerId: 'default' } });
    expect(ServerPolicyDefined.is(policy)).toBe(true);
    const target = upcastEvent(targetV1);
    expect(target).toEqual({ ...targetV1, version: 2, data: { ...targetV1.data, ownerId: 'default' } });
    expect(TargetRegistered.is(target)).toBe(true);
  });

  test('a v2 keeps the owner it was written with', () => {
    const v2 = { ...targetV1, version: 2, data: { ...targetV1.data, ownerId: 'acme' } };
    expect(upcastEvent(v2)).toBe(v2);
  });

  test('a v1 that carries an owner is not a v1: refused, not upcast', () => {
    expect(() => upcastEvent({ ...policyV1, data: { ...policyV1.data, ownerId: 'acme' } })).toThrow(ContractViolation);
  });
});

// Firmware-decryption keys became per owner epoch (issue 17): keys recorded before are epoch 0's.
describe('DeviceFirmwareKeysRecorded v1 -> v2 (owner epoch)', () => {
  const keysV1 = {
    type: 'DeviceFirmwareKeysRecorded',
    version: 1,
    ...meta,
    data: sampleValue(DeviceFirmwareKeysRecordedV1.data) as Record<string, unknown>,
  };

  test('a stored v1 is still valid as v1, and not as v2 (the epoch is required now)', () => {
    expect(validateEvent(keysV1)).toBe(keysV1);
    expect(DeviceFirmwareKeysRecorded.is({ ...keysV1, version: 2 })).toBe(false);
  });

  test('a v1 upcasts to owner epoch 0; a v2 keeps its epoch', () => {
    const upcast = upcastEvent(keysV1);
    expect(upcast).toEqual({ ...keysV1, version: 2, data: { ...keysV1.data, ownerEpoch: 0 } });
    const v2 = { ...keysV1, version: 2, data: { ...keysV1.data, ownerEpoch: 3 } };
    expect(upcastEvent(v2)).toBe(v2);
  });

  test('a v1 that carries an epoch is not a v1: refused, not upcast', () => {
    expect(() => upcastEvent({ ...keysV1, data: { ...keysV1.data, ownerEpoch: 1 } })).toThrow(ContractViolation);
  });
});
