import { IntegrityViolationDetected } from '@tunnelkey/contracts';
import { InMemoryEventStore, type EventStore } from '@tunnelkey/eventstore';
import { givenEvent } from '@tunnelkey/testing';
import { pino } from 'pino';
import { RevokeDevicesHandler } from '../revoke-devices/revoke-devices.handler.js';
import { OtherContexts } from '../test-support/other-contexts.test-helper.js';
import { RevocationStatusView } from '../views/revocation-status.view.js';
import { IntegrityViolationsReaction } from './integrity-violations.reaction.js';

const logger = pino({ level: 'silent' });
const now = new Date('2026-03-01T12:00:00.000Z');

async function requested(store: EventStore) {
  const events: { type: string; data: unknown }[] = [];
  await store.replay('revocation', ({ event }) => void events.push({ type: event.type, data: event.data }));
  return events;
}

describe("integrity monitoring's revoke action (slice, in-memory store)", () => {
  let store: InMemoryEventStore;
  let view: RevocationStatusView;
  let reaction: IntegrityViolationsReaction;
  const violation = async (
    deviceId: string,
    action: 'alert' | 'quarantine' | 'revoke',
    violationId = `v-${deviceId}`,
  ) => {
    const event = await givenEvent(store, IntegrityViolationDetected, deviceId, {
      deviceId,
      violationId,
      kind: 'counter-regression',
      action,
    });
    await reaction.handle({ event, sequence: 1, subject: `registry.integrity.${deviceId}` });
  };

  beforeEach(async () => {
    store = new InMemoryEventStore({ logger });
    view = await RevocationStatusView.start(store, logger);
    const handler = new RevokeDevicesHandler(store, view, () => now, logger);
    reaction = new IntegrityViolationsReaction(store, handler, logger);
    await new OtherContexts(store).importDevice('d-1', 'b-1');
  });
  afterEach(() => view.stop());

  it('given a violation whose policy revokes, the device is revoked (keyCompromise), once however often it is delivered', async () => {
    await violation('d-1', 'revoke');
    await violation('d-1', 'revoke');
    expect(await requested(store)).toEqual([
      {
        type: 'RevocationRequested',
        data: expect.objectContaining({ scope: 'device', deviceIds: ['d-1'], reason: 'keyCompromise' }),
      },
    ]);
  });

  it('given a violation that only alerts or quarantines, nothing is revoked', async () => {
    await violation('d-1', 'alert', 'v-a');
    await violation('d-1', 'quarantine', 'v-q');
    expect(await requested(store)).toEqual([]);
  });

  it('given a device the plan does not know, it is logged and not retried (no throw)', async () => {
    await expect(violation('d-unknown', 'revoke')).resolves.toBeUndefined();
    expect(await requested(store)).toEqual([]);
  });
});
