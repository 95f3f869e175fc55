import type { EventEnvelope } from '@tunnelkey/contracts';
import type { Command } from './decider.js';
import { CommandRejected } from './errors.js';
import { queuedDevicesDecider } from './queued-devices.decider.js';

type Queued = EventEnvelope<'ThingsQueued', { commandId: string; deviceIds: string[] }>;
const decider = queuedDevicesDecider<'QueueThings', Queued>('QueueThings', { type: 'ThingsQueued', version: 1 }, 3);
const queue = (deviceIds: string[]): Command<'QueueThings', Queued['data']> => ({
  type: 'QueueThings',
  data: { commandId: 'c-1', deviceIds },
  metadata: { commandId: 'c-1', now: '2026-12-07T12:00:00.000Z' },
});
const replay = (...events: ReturnType<typeof decider.decide>) =>
  events.reduce((state, e) => decider.evolve(state, e as Queued), decider.initialState());

describe('queuedDevicesDecider: one command devices, each recorded once', () => {
  test('records the devices once each, duplicates in the command dropped', () => {
    expect(decider.decide(queue(['d-1', 'd-2', 'd-1']), decider.initialState())).toEqual([
      { type: 'ThingsQueued', version: 1, data: { commandId: 'c-1', deviceIds: ['d-1', 'd-2'] } },
    ]);
  });

  test('a retried command listing them in another order records only the devices not recorded yet', () => {
    const state = replay(...decider.decide(queue(['d-1', 'd-2']), decider.initialState()));
    expect(decider.decide(queue(['d-2', 'd-1']), state)).toEqual([]);
    expect(decider.decide(queue(['d-3', 'd-2', 'd-1']), state)).toEqual([
      { type: 'ThingsQueued', version: 1, data: { commandId: 'c-1', deviceIds: ['d-3'] } },
    ]);
  });

  test('more new devices than a record holds, or another command: refused', () => {
    expect(() => decider.decide(queue(['a', 'b', 'c', 'd']), decider.initialState())).toThrow(CommandRejected);
    expect(() =>
      decider.decide({ ...queue(['a']), type: 'Other' } as unknown as ReturnType<typeof queue>, decider.initialState()),
    ).toThrow(/unknown command Other/);
  });

  test('other events leave the state as it is', () => {
    const state = decider.initialState();
    expect(decider.evolve(state, { type: 'Else', data: { deviceIds: ['x'] } } as unknown as Queued)).toBe(state);
  });
});
