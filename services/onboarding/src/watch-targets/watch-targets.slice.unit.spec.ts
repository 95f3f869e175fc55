import { OnboardDevicesHandler } from '../onboard-devices/onboard-devices.handler.js';
import { DeviceWriter } from '../shared/device-writer.js';
import { startOnboardingSlice, type OnboardingSlice } from '../test-support/onboarding-slice.test-helper.js';
import { waitFor } from '@tunnelkey/testing';
import { TargetsView } from '../views/targets.view.js';
import { heldObservationMs, WatchTargetsHandler } from './watch-targets.handler.js';

describe('watch-targets slice (in-memory store and target)', () => {
  let slice: OnboardingSlice;

  beforeEach(async () => {
    slice = await startOnboardingSlice();
    await slice.onboardedBatch({ targetIds: ['broker-a'], deviceIds: ['d-1'] });
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

  it("puts the log right from the target's reports of who is connected: a lost connection, then a lost disconnection, each once", async () => {
    const broker = slice.targets.target('broker-a');
    const handler = slice.get(WatchTargetsHandler);
    const view = slice.get(TargetsView);
    const connections = async () =>
      (await slice.events()).filter((e) => e.type === 'DeviceConnected' || e.type === 'DeviceDisconnected');
    // d-1 connects; its observation is lost on the way (the broker knows, nothing was said).
    broker.present.add('d-1');
    broker.reportPresent(new Date('2026-11-27T10:01:00.000Z'));
    await slice.get(DeviceWriter).idle();
    expect(await connections()).toEqual([]); // one report only: a record may still be on its way
    broker.reportPresent(new Date('2026-11-27T10:01:15.000Z'));
    await slice.get(DeviceWriter).idle();
    expect((await connections()).map((e) => [e.type, e.data])).toEqual([
      [
        'DeviceConnected',
        {
          deviceId: 'd-1',
          targetId: 'broker-a',
          clientId: 'd-1',
          connectedAt: '2026-11-27T10:01:15.000Z',
          tlsProtocol: 'unknown',
          cipher: 'unknown',
        },
      ],
    ]);
    await waitFor(() => view.connectionDrift('broker-a', broker.present).length === 0, { description: 'the view' });
    broker.reportPresent();
    broker.reportPresent();
    await slice.get(DeviceWriter).idle();
    expect(await connections()).toHaveLength(1);

    // It goes; that observation is lost too.
    broker.present.delete('d-1');
    broker.reportPresent(new Date('2026-11-27T10:02:00.000Z'));
    broker.reportPresent(new Date('2026-11-27T10:02:15.000Z'));
    await slice.get(DeviceWriter).idle();
    expect((await connections()).map((e) => [e.type, e.data])).toEqual([
      ['DeviceConnected', expect.anything()],
      [
        'DeviceDisconnected',
        {
          deviceId: 'd-1',
          targetId: 'broker-a',
          clientId: 'd-1',
          disconnectedAt: '2026-11-27T10:02:15.000Z',
          reason: 'unknown',
        },
      ],
    ]);
    await waitFor(() => view.connectionDrift('broker-a', broker.present).length === 0, { description: 'the view' });
    handler.observe('broker-a', { kind: 'present', clientIds: new Set(), reportId: 'again', at: new Date() });
    await slice.get(DeviceWriter).idle();
    expect(await connections()).toHaveLength(2);
  });

  it('a device that differs from one report but not the next (its observation arrived meanwhile) is recorded once', async () => {
    const broker = slice.targets.target('broker-a');
    broker.present.add('d-1');
    broker.reportPresent();
    broker.connect('d-1', new Date('2026-11-27T10:01:00.000Z'));
    await slice.get(DeviceWriter).idle();
    await waitFor(() => slice.get(TargetsView).connectionDrift('broker-a', broker.present).length === 0, {
      description: 'the view',
    });
    broker.reportPresent();
    broker.reportPresent();
    await slice.get(DeviceWriter).idle();
    expect((await slice.events('DeviceConnected')).map((e) => e.data)).toEqual([
      expect.objectContaining({ connectedAt: '2026-11-27T10:01:00.000Z', tlsProtocol: 'TLSv1.3' }),
    ]);
  });

  it('a revoked (deprovisioned) device the target still reports is never recorded connected', async () => {
    const broker = slice.targets.target('broker-a');
    await slice.get(DeviceWriter).record('d-1', {
      type: 'RecordDeprovisioned',
      data: { deviceId: 'd-1', targetId: 'broker-a', reason: 'operator' },
      metadata: { commandId: 'deprovision-1', now: '2026-11-27T10:00:00.000Z' },
    });
    await waitFor(() => slice.get(TargetsView).activeTargets('d-1').length === 0, { description: 'the view' });
    broker.present.add('d-1');
    broker.reportPresent();
    broker.reportPresent();
    await slice.get(DeviceWriter).idle();
    expect(await slice.events('DeviceConnected')).toEqual([]);
  });

  it("holds what a device does before its onboarding is known (connected, first telemetry), and drops a stranger's after the hold", async () => {
    await slice.given.batch('b-2', 'p-1', ['d-2']);
    await slice.given.certified('d-2');
    const broker = slice.targets.target('broker-a');
    const handler = slice.get(WatchTargetsHandler);
    broker.connect('d-2', new Date('2026-11-27T10:01:00.000Z'));
    broker.publish('d-2', 'fridges/d-2/telemetry', 10, new Date('2026-11-27T10:01:01.000Z'));
    broker.connect('stranger');
    handler.recordHeld();
    await slice.get(DeviceWriter).idle();
    expect(await slice.events('DeviceConnected')).toEqual([]);

    await (
      await slice.get(OnboardDevicesHandler).onboardBatch({ commandId: 'onboard-2', batchId: 'b-2' })
    ).done;
    handler.recordHeld();
    await slice.get(DeviceWriter).idle();
    expect((await slice.events('DeviceConnected')).map((e) => e.data)).toEqual([
      expect.objectContaining({ deviceId: 'd-2', connectedAt: '2026-11-27T10:01:00.000Z' }),
    ]);
    expect((await slice.events('TelemetryReceived')).map((e) => e.data)).toEqual([
      expect.objectContaining({ deviceId: 'd-2', kind: 'first', messagesTotal: 1 }),
    ]);

    // The stranger's connection is dropped once held longer than the hold; it never counts, even if onboarded later.
    handler.recordHeld(Date.now() + heldObservationMs);
    await slice.given.batch('b-3', 'p-1', ['stranger']);
    await slice.given.certified('stranger');
    await (
      await slice.get(OnboardDevicesHandler).onboardBatch({ commandId: 'onboard-3', batchId: 'b-3' })
    ).done;
    handler.recordHeld();
    await slice.get(DeviceWriter).idle();
    expect((await slice.events('DeviceConnected')).map((e) => (e.data as { deviceId: string }).deviceId)).toEqual([
      'd-2',
    ]);
  });
});
