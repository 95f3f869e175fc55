import { eventDefinitions } from './catalog.js';
import { fromCloudEvent, readPublicEvent, toCloudEvent, type TunnelkeyCloudEvent } from './cloudevents.js';
import { ContractViolation } from './errors.js';
import { DeviceCertified } from './events/registry.events.js';
import { sampleValue } from './sample-values.js';

const certified = DeviceCertified.create({
  id: '123e4567-e89b-12d3-a456-426614174000',
  aggregateId: 'd-7f3a',
  occurredAt: '2026-12-07T01:02:03.000Z',
  causationId: 'cmd-1',
  correlationId: 'corr-1',
  actor: { kind: 'service', id: 'registry' },
  data: {
    deviceId: 'd-7f3a',
    authorityId: 'issuing-acme',
    serialNumber: '0a1b2c',
    fingerprintSha256: 'ab'.repeat(32),
    notAfter: '2027-12-07T01:02:03.000Z',
  },
});

describe('CloudEvents 1.0 mapping', () => {
  it('maps an event to the CloudEvents attributes, with our ids as extensions', () => {
    expect(toCloudEvent(certified)).toEqual({
      specversion: '1.0',
      id: certified.id,
      source: 'urn:tunnelkey:registry',
      type: 'io.tunnelkey.registry.DeviceCertified.v1',
      subject: 'd-7f3a',
      time: '2026-12-07T01:02:03.000Z',
      datacontenttype: 'application/json',
      causationid: 'cmd-1',
      correlationid: 'corr-1',
      actorkind: 'service',
      actorid: 'registry',
      data: certified.data,
    });
  });

  it('extension names follow the CloudEvents naming rule (lower-case a-z0-9, at most 20 characters)', () => {
    for (const name of Object.keys(toCloudEvent(certified))) expect(name).toMatch(/^[a-z0-9]{1,20}$/);
  });

  it('is lossless for every event of the catalog, every version (to and back gives the same envelope)', () => {
    for (const definition of eventDefinitions) {
      const event = definition.parse(sampleValue(definition.schema));
      expect(fromCloudEvent(toCloudEvent(event))).toEqual(event);
      const { actor: _actor, ...withoutActor } = event;
      expect(fromCloudEvent(toCloudEvent(withoutActor))).toEqual(withoutActor);
    }
  });

  it('refuses what it did not make: another type, source or spec version, or a broken payload', () => {
    const good = toCloudEvent(certified);
    const broken: TunnelkeyCloudEvent[] = [
      { ...good, type: 'com.example.DeviceCertified' },
      { ...good, type: 'io.tunnelkey.registry.DeviceCertified.v9' },
      { ...good, type: 'io.tunnelkey.ca.DeviceCertified.v1' },
      { ...good, source: 'urn:tunnelkey:ca' },
      { ...good, specversion: '0.3' as '1.0' },
      { ...good, data: { ...(good.data as object), serialNumber: 'not hex' } },
    ];
    for (const event of broken) expect(() => fromCloudEvent(event)).toThrow(ContractViolation);
  });
});

describe('readPublicEvent', () => {
  const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

  it('reads a public event from the bytes of a message', () => {
    expect(readPublicEvent(bytes(certified))).toEqual({ kind: 'public', event: certified });
  });

  it('tells internal events apart, by the catalog, without throwing', () => {
    const internal = eventDefinitions.find((d) => d.public !== true)!;
    const event = internal.parse(sampleValue(internal.schema));
    expect(readPublicEvent(bytes(event))).toEqual({ kind: 'internal', type: internal.type });
  });

  it('says why a message is not an event, without throwing or echoing its content', () => {
    expect(readPublicEvent(new TextEncoder().encode('{nope'))).toEqual({ kind: 'invalid', reason: 'not JSON' });
    expect(readPublicEvent(bytes({ ...certified, type: 'Unheard' }))).toMatchObject({ kind: 'invalid' });
    const forged = readPublicEvent(bytes({ ...certified, data: { ...certified.data, secret: 'hunter2' } }));
    expect(forged.kind).toBe('invalid');
    expect(JSON.stringify(forged)).not.toContain('hunter2');
  });
});
