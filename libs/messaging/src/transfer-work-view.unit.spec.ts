import type { EventEnvelope } from '@tunnelkey/contracts';
import { InMemoryEventStore, type EventStore } from '@tunnelkey/eventstore';
import { pino } from 'pino';
import { TransferWorkView, updateOwed, type OwedListener, type TransferWorkState } from './transfer-work-view.js';

interface Transfer {
  deviceId: string;
  transferId: string;
}

/**
 * A stand-in fold: a policy named `t-<n>` is a transfer of the device named by its id, one named
 * `done` settles what that device owed.
 */
function fold(state: TransferWorkState<Transfer>, event: EventEnvelope, becameOwed: OwedListener<Transfer>): void {
  const deviceId = event.aggregateId;
  const { name } = event.data as { name: string };
  if (name !== 'done') state.transfers.set(deviceId, { deviceId, transferId: name });
  updateOwed(state, deviceId, name !== 'done', becameOwed);
}

class OwedTransfersView extends TransferWorkView<TransferWorkState<Transfer>, Transfer> {
  static start(store: EventStore): Promise<OwedTransfersView> {
    return TransferWorkView.startLive(
      store,
      {
        name: 'test-owed-transfers',
        sources: [{ context: 'registry' }],
        initialState: () => ({ transfers: new Map(), owed: new Set() }),
        fold,
      },
      undefined,
      (live, listeners) => new OwedTransfersView(live, listeners),
    );
  }
}

const event = (deviceId: string, name: string): EventEnvelope =>
  ({
    type: 'ServerPolicyDefined',
    version: 1,
    id: crypto.randomUUID(),
    aggregateId: deviceId,
    occurredAt: '2026-01-02T03:04:05.000Z',
    causationId: 'cause-1',
    correlationId: 'corr-1',
    data: {
      policyId: deviceId,
      name,
      targetIds: [],
      topicRights: [{ topic: 'dev/{deviceId}/up', access: 'publish' }],
      certificateLifetimeDays: 365,
    },
  }) as EventEnvelope;

describe('TransferWorkView', () => {
  let store: InMemoryEventStore;
  const views: OwedTransfersView[] = [];
  const append = (deviceId: string, name: string) =>
    store.append({ context: 'registry', aggregate: 'policy', id: deviceId }, [event(deviceId, name)], {
      expectedVersion: 'any',
      messageId: crypto.randomUUID(),
    });
  const started = async () => {
    const view = await OwedTransfersView.start(store);
    views.push(view);
    return view;
  };

  beforeEach(() => {
    store = new InMemoryEventStore({ logger: pino({ level: 'silent' }) });
  });
  afterEach(async () => {
    for (const view of views.splice(0)) await view.stop();
  });

  it('lists the last transfer of every device that owes work, and no other, rebuilt from the log', async () => {
    await append('d-1', 't-1');
    await append('d-2', 't-2');
    await append('d-1', 't-3');
    await append('d-2', 'done');
    const view = await started();
    expect(view.owed()).toEqual([{ deviceId: 'd-1', transferId: 't-3' }]);
    expect(view.name).toBe('test-owed-transfers');
  });

  it('tells each listener once of a device that comes to owe, live, until it unsubscribes', async () => {
    const view = await started();
    const heard: string[] = [];
    const heardToo: string[] = [];
    const unsubscribe = view.onOwed((transfer) => heard.push(transfer.transferId));
    view.onOwed((transfer) => heardToo.push(transfer.transferId));
    await append('d-1', 't-1');
    await append('d-1', 't-2'); // still owed: nothing new to hear
    await view.catchUp();
    expect(heard).toEqual(['t-1']);
    unsubscribe();
    await append('d-1', 'done');
    await append('d-1', 't-3');
    await view.catchUp();
    expect(heard).toEqual(['t-1']);
    expect(heardToo).toEqual(['t-1', 't-3']);
    expect(view.owed()).toEqual([{ deviceId: 'd-1', transferId: 't-3' }]);
  });
});
