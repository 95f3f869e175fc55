import { batchStream, deviceStream, policyStream } from '../shared/registry-streams.js';
import {
  batchCreated,
  deviceImported,
  policyDefined,
  registrySlice,
  sliceDevice,
  type RegistrySlice,
} from '../test-support/registry-slice.js';
import { ImportIdentitiesHandler } from './import-identities.handler.js';

const importedData = (device: ReturnType<typeof sliceDevice>, batchId: string, importId: string) => ({
  deviceId: device.deviceId,
  batchId,
  importId,
  source: 'json',
  enrolmentPublicKey: device.enrolmentPublicKey,
  enrolmentKeyDigest: device.enrolmentKeyDigest,
});
const row = (device: ReturnType<typeof sliceDevice>) => ({
  deviceId: device.deviceId,
  enrolmentPublicKey: device.enrolmentPublicKey,
});

describe('ImportIdentities (slice)', () => {
  let slice: RegistrySlice;
  let handler: ImportIdentitiesHandler;
  const [a, b, c, d] = [sliceDevice(), sliceDevice(), sliceDevice(), sliceDevice()];
  beforeEach(async () => {
    slice = await registrySlice();
    const { store, deviceStates, admission, batches, metrics, config, clock, logger } = slice;
    handler = new ImportIdentitiesHandler(store, deviceStates, admission, batches, metrics, config, clock, logger);
    await slice.given(policyStream('fridges'), [policyDefined]);
    await slice.given(batchStream('other'), [batchCreated('other')]);
    await slice.given(batchStream('small'), [batchCreated('small', 2)]);
  });
  afterEach(() => slice.stop());

  it('given a batch, when rows are imported, then DeviceIdentityImported each, IdentitiesImported', async () => {
    const report = await handler.handle({
      commandId: 'c-1',
      batchId: 'small',
      importId: 'file-1',
      source: { format: 'json', rows: [row(a), row(b)] },
    });
    expect(report).toEqual({
      batchId: 'small',
      importId: 'file-1',
      accepted: 2,
      rejected: 0,
      rows: [
        { row: 1, deviceId: a.deviceId, status: 'accepted' },
        { row: 2, deviceId: b.deviceId, status: 'accepted' },
      ],
    });
    const written = await slice.written();
    expect(written).toHaveLength(4);
    // The places first, on the batch's own stream: the log, not the process, holds the expected size.
    expect(written[0]).toEqual({
      aggregateId: 'small',
      type: 'BatchPlacesReserved',
      data: { batchId: 'small', deviceIds: [a.deviceId, b.deviceId] },
    });
    expect(written).toEqual(
      expect.arrayContaining([
        { aggregateId: a.deviceId, type: 'DeviceIdentityImported', data: importedData(a, 'small', 'file-1') },
        { aggregateId: b.deviceId, type: 'DeviceIdentityImported', data: importedData(b, 'small', 'file-1') },
      ]),
    );
    expect(written[3]).toEqual({
      aggregateId: 'small',
      type: 'IdentitiesImported',
      data: { batchId: 'small', importId: 'file-1', source: 'json', accepted: 2, rejected: 0 },
    });
    // The reply comes once the batch summary counts the new members.
    expect(slice.batches.batchSummary('small')).toMatchObject({ devices: 2, imports: 1, byStatus: { Imported: 2 } });
  });

  it('given a member, a device elsewhere, one place left, when imported, then refusals per row', async () => {
    await slice.given(deviceStream(a.deviceId), [deviceImported(a, 'small')]);
    await slice.given(deviceStream(c.deviceId), [deviceImported(c, 'other')]);
    const report = await handler.handle({
      commandId: 'c-2',
      batchId: 'small',
      importId: 'file-2',
      source: { format: 'json', rows: [row(a), row(c), row(b), { deviceId: 7 }] },
    });
    // c is known to be in another batch: it takes no place (its own decider refuses it), so the last place is b's.
    expect(report.rows).toEqual([
      { row: 1, deviceId: a.deviceId, status: 'accepted' },
      { row: 2, deviceId: c.deviceId, status: 'rejected', reason: 'in-other-batch' },
      { row: 3, deviceId: b.deviceId, status: 'accepted' },
      { row: 4, status: 'rejected', reason: 'invalid-row' },
    ]);
    const batchEvents = (await slice.written()).filter((e) => e.aggregateId === 'small');
    expect(batchEvents).toEqual([
      { aggregateId: 'small', type: 'BatchPlacesReserved', data: { batchId: 'small', deviceIds: [b.deviceId] } },
      {
        aggregateId: 'small',
        type: 'IdentitiesImported',
        data: { batchId: 'small', importId: 'file-2', source: 'json', accepted: 2, rejected: 2 },
      },
    ]);
    // Now full: a further device is refused as such.
    const again = await handler.handle({
      commandId: 'c-2b',
      batchId: 'small',
      importId: 'file-2b',
      source: { format: 'json', rows: [row(d)] },
    });
    expect(again.rows).toEqual([{ row: 1, deviceId: d.deviceId, status: 'rejected', reason: 'batch-full' }]);
  });

  it('given two registry instances on one log, when both import into one batch at once, then it never overshoots', async () => {
    // The second instance: its own views, caches and admission (a replica), the same store.
    const replica = await registrySlice({ store: slice.store });
    const other = new ImportIdentitiesHandler(
      replica.store,
      replica.deviceStates,
      replica.admission,
      replica.batches,
      replica.metrics,
      replica.config,
      replica.clock,
      replica.logger,
    );
    try {
      const devices = Array.from({ length: 6 }, () => sliceDevice());
      await slice.given(batchStream('four'), [batchCreated('four', 4)]);
      await replica.settled();
      const reports = await Promise.all([
        handler.handle({
          commandId: 'r-1',
          batchId: 'four',
          importId: 'file-r1',
          source: { format: 'json', rows: devices.slice(0, 3).map(row) },
        }),
        other.handle({
          commandId: 'r-2',
          batchId: 'four',
          importId: 'file-r2',
          source: { format: 'json', rows: devices.slice(3).map(row) },
        }),
      ]);
      expect(reports.reduce((n, r) => n + r.accepted, 0)).toBe(4);
      expect(reports.flatMap((r) => r.rows.filter((x) => x.status === 'rejected').map((x) => x.reason))).toEqual([
        'batch-full',
        'batch-full',
      ]);
      await replica.settled();
      await slice.settled();
      expect(slice.devices.batchMembers('four').size).toBe(4);
      expect(replica.devices.batchMembers('four').size).toBe(4);
    } finally {
      await replica.stop();
    }
  });

  it('when the import is retried (same command id), then the same report, nothing more written', async () => {
    const command = {
      commandId: 'c-3',
      batchId: 'small',
      importId: 'file-3',
      source: { format: 'json', rows: [row(a)] },
    };
    const first = await handler.handle(command);
    const writtenOnce = await slice.written();
    await expect(handler.handle(command)).resolves.toEqual(first);
    expect(await slice.written()).toEqual(writtenOnce);
  });

  it('given no such batch, when imported, then NOT_FOUND', async () => {
    const command = { commandId: 'c-4', batchId: 'nope', importId: 'f', source: { format: 'json', rows: [row(a)] } };
    await expect(handler.handle(command)).rejects.toMatchObject({ reason: 'NOT_FOUND' });
    expect(await slice.written()).toEqual([]);
  });
});
