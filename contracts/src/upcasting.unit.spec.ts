import { validateEvent } from './catalog.js';
import { ContractViolation, UpcastError } from './errors.js';
import { DeviceConnectedV1 } from './events/device-connected.v1.js';
import { DeviceConnected, ServerPolicyDefined } from './index.js';
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

  test('an event already at its only version passes through', () => {
    const policy = ServerPolicyDefined.create({
      ...meta,
      aggregateId: 'p1',
      data: {
        policyId: 'p1',
        name: 'n',
        targetIds: [],
        topicRights: [{ topic: 't', access: 'publish' }],
        certificateLifetimeDays: 1,
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
