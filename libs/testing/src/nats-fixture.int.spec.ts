import { Kvm } from '@nats-io/kv';
import { natsFixture } from './nats-fixture.js';

describe('natsFixture (real NATS on NATS_URL)', () => {
  test('isolates by namespace and removes its streams and KV buckets', async () => {
    const nats = natsFixture({ prefix: 'fx' });
    await nats.setup();
    const sub = nats.subNamespace();
    expect(sub.startsWith(`${nats.namespace}_`)).toBe(true);
    expect(natsFixture().namespace).not.toBe(nats.namespace);
    await nats.jsm.streams.add({ name: `${sub.toUpperCase()}_REGISTRY`, subjects: [`${sub}.registry.>`] });
    await new Kvm(nats.nc).create(`${nats.namespace.toUpperCase()}_SNAPSHOTS`);
    const jsm = nats.jsm;
    const mine = async () => {
      const names: string[] = [];
      for await (const name of jsm.streams.names()) if (name.includes(nats.namespace.toUpperCase())) names.push(name);
      return names.sort();
    };
    expect(await mine()).toEqual([`${sub.toUpperCase()}_REGISTRY`, `KV_${nats.namespace.toUpperCase()}_SNAPSHOTS`]);
    const { connect } = await import('@nats-io/transport-node');
    const { jetstreamManager } = await import('@nats-io/jetstream');
    await nats.teardown();
    const nc = await connect({ servers: nats.url });
    const names: string[] = [];
    for await (const name of (await jetstreamManager(nc)).streams.names())
      if (name.includes(nats.namespace.toUpperCase())) names.push(name);
    await nc.close();
    expect(names).toEqual([]);
  });
});
