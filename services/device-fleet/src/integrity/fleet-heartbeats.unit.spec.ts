import { HeartbeatMessage } from '@tunnelkey/contracts';
import { createFleet, type Fleet } from '../fleet/create-fleet.js';

/** The fleet without a bus: what its devices publish is read from the transport each device was given. */
describe('fleet heartbeats and integrity faults', () => {
  let fleet: Fleet;
  const sent: {
    subject: string;
    body: { counter: number; deviceId: string; body: { firmwareMeasurement: string } };
  }[] = [];
  /** The bus as the fleet uses it: it publishes, and its inbox subscription receives nothing here. */
  const bus = {
    publish: (subject: string, data: Uint8Array) =>
      void sent.push({ subject, body: JSON.parse(new TextDecoder().decode(data)) }),
    subscribe: () => ({ unsubscribe: () => undefined, drain: async () => undefined }),
  };

  beforeAll(async () => {
    fleet = await createFleet({ size: 3, seedBase: 'heartbeat-unit', nats: bus as never });
  });
  afterAll(() => fleet.stop());
  beforeEach(() => void (sent.length = 0));

  const beatsOf = (deviceId: string) =>
    sent.filter((m) => m.subject === HeartbeatMessage.subject(deviceId)).map((m) => m.body);
  const waitBeats = async (deviceId: string, count: number) => {
    for (let i = 0; i < 400 && beatsOf(deviceId).length < count; i++) await new Promise((r) => setTimeout(r, 10));
    return beatsOf(deviceId);
  };

  it('every device beats each period with its measurement and a growing counter; a tampered one reports another measurement', async () => {
    const [first, second] = [...fleet.devices()];
    const genuine = first!.flash.firmware.measurement;
    fleet.heartbeats.start(200);
    const beats = await waitBeats(first!.deviceId, 2);
    expect(beats[0]!.body.firmwareMeasurement).toBe(genuine);
    expect(beats[1]!.counter).toBeGreaterThan(beats[0]!.counter);
    fleet.heartbeats.inject(second!.deviceId, 'tampered-measurement');
    const before = beatsOf(second!.deviceId).length;
    const after = await waitBeats(second!.deviceId, before + 1);
    expect(after.at(-1)!.body.firmwareMeasurement).not.toBe(genuine);
    fleet.heartbeats.stop();
  });

  it('a replay publishes the last heartbeat again, byte for byte; a silent device stops; a clone beats with its own counter', async () => {
    const [, , third] = [...fleet.devices()];
    const id = third!.deviceId;
    fleet.heartbeats.start(200);
    await waitBeats(id, 1);
    fleet.heartbeats.stop();
    await fleet.idle();
    const last = beatsOf(id).at(-1)!;
    fleet.heartbeats.inject(id, 'replayed-heartbeat');
    expect(sent.at(-1)!.body).toEqual(last);
    expect(beatsOf(id).filter((b) => b.counter === last.counter)).toHaveLength(2);
    expect(fleet.heartbeats.stats().replayed).toBe(1);
    fleet.heartbeats.start(200);
    fleet.heartbeats.inject(id, 'cloned');
    const count = beatsOf(id).length;
    const withClone = await waitBeats(id, count + 4);
    const counters = withClone.slice(count).map((b) => b.counter);
    // Two counter lines on one identity: somewhere a counter is not above the one before it.
    expect(counters.some((c, i) => i > 0 && c <= counters[i - 1]!)).toBe(true);
    fleet.heartbeats.inject(id, 'silent');
    await fleet.idle();
    const silencedAt = beatsOf(id).length;
    // Two more periods of another device's beats: none of the silent one's.
    const other = [...fleet.devices()][0]!.deviceId;
    await waitBeats(other, beatsOf(other).length + 2);
    expect(beatsOf(id).length).toBe(silencedAt);
    fleet.heartbeats.stop();
  });

  it('refuses a period under 100 ms and an unknown device', () => {
    expect(() => fleet.heartbeats.start(10)).toThrow(/at least 100 ms/);
    expect(() => fleet.heartbeats.inject('d-nobody', 'silent')).toThrow(/no such device/);
  });
});
