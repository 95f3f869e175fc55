import { OnboardDevicesHandler } from '../onboard-devices/onboard-devices.handler.js';
import { DeviceWriter } from '../shared/device-writer.js';
import { startOnboardingSlice, type OnboardingSlice } from '../test-support/onboarding-slice.test-helper.js';
import { WatchTargetsHandler } from './watch-targets.handler.js';

describe('watch-targets slice (in-memory store and target)', () => {
  let slice: OnboardingSlice;

  beforeEach(async () => {
    slice = await startOnboardingSlice();
    await slice.given.policy('p-1', ['broker-a']);
    await slice.given.batch('b-1', 'p-1', ['d-1']);
    await slice.given.certified('d-1');
    await slice.registerTarget('broker-a');
    await (
      await slice.get(OnboardDevicesHandler).onboardBatch({ commandId: 'onboard-1', batchId: 'b-1' })
    ).done;
  });
  afterEach(() => slice.close());

  it('records connections and disconnections of onboarded devices only', async () => {
    const broker = slice.targets.target('broker-a');
    broker.connect('d-1', new Date('2026-11-27T10:01:00.000Z'));
    broker.connect('stranger', new Date('2026-11-27T10:01:00.000Z'));
    broker.drop('d-1', 'client-closed', new Date('2026-11-27T10:02:00.000Z'));
    await slice.get(DeviceWriter).idle();
    const events = await slice.events();
    expect(events.filter((e) => e.type === 'DeviceConnected').map((e) => e.data)).toEqual([
      {
        deviceId: 'd-1',
        targetId: 'broker-a',
        clientId: 'd-1',
        connectedAt: '2026-11-27T10:01:00.000Z',
        tlsProtocol: 'TLSv1.3',
        cipher: 'TLS_AES_256_GCM_SHA384',
      },
    ]);
    expect(events.filter((e) => e.type === 'DeviceDisconnected').map((e) => e.data)).toEqual([
      {
        deviceId: 'd-1',
        targetId: 'broker-a',
        clientId: 'd-1',
        disconnectedAt: '2026-11-27T10:02:00.000Z',
        reason: 'client-closed',
      },
    ]);
    expect(JSON.stringify(events)).not.toContain('stranger');
  });

  it('records telemetry: the first message at once, then a report per flush, never one per message', async () => {
    const broker = slice.targets.target('broker-a');
    for (let i = 0; i < 3; i++)
      broker.publish('d-1', 'fridges/d-1/telemetry', 10, new Date(Date.UTC(2026, 10, 27, 10, 5, i)));
    broker.publish('stranger', 'fridges/stranger/telemetry', 10);
    await slice.get(DeviceWriter).idle();
    expect((await slice.events('TelemetryReceived')).map((e) => e.data)).toEqual([
      expect.objectContaining({ kind: 'first', messagesTotal: 1, bytesTotal: 10 }),
    ]);
    await slice.get(WatchTargetsHandler).flushTelemetry();
    const reports = (await slice.events('TelemetryReceived')).map((e) => e.data);
    expect(reports).toEqual([
      expect.objectContaining({ kind: 'first' }),
      expect.objectContaining({
        deviceId: 'd-1',
        kind: 'periodic',
        messagesTotal: 3,
        messagesInWindow: 2,
        bytesTotal: 30,
        lastMessageAt: '2026-11-27T10:05:02.000Z',
      }),
    ]);
    await slice.get(WatchTargetsHandler).flushTelemetry(); // no message since: nothing to report
    expect(await slice.events('TelemetryReceived')).toHaveLength(2);
  });
});
