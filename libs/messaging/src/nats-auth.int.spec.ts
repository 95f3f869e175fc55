/**
 * The production bus configuration (deploy/nats/nats.conf) on a nats-server of its own, started
 * from THAT file with only the port, the store directory and the certificate paths replaced
 * (startSecuredNats from @tunnelkey/testing, which the secured-bus e2e test shares):
 * who may connect, publish, write streams and buckets, send commands, and that it is TLS only.
 */
import 'reflect-metadata';
import { readFile } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import { Controller, Module } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats, natsConnectionConfig, natsConnectionOptions } from '@tunnelkey/config';
import { JetStreamEventStore } from '@tunnelkey/eventstore-jetstream';
import { startSecuredNats, type SecuredNats, type SecuredNatsUser } from '@tunnelkey/testing';
import { CommandClient, startService } from './index.js';

type User = SecuredNatsUser;

let bus: SecuredNats;
const open: NatsConnection[] = [];

const envOf = (user: User) => bus.envOf(user);

async function as(user: User): Promise<NatsConnection> {
  const nc = await connectNats(
    await natsConnectionOptions(natsConnectionConfig(envOf(user)), { name: `test-${user}` }),
  );
  open.push(nc);
  return nc;
}

/** Resolves with the server's permission violation for `subject` on this connection. */
async function violation(nc: NatsConnection, subject: string): Promise<string> {
  for await (const status of nc.status()) {
    if (status.type === 'error' && String(status.error).includes(`"${subject}"`)) return String(status.error);
  }
  throw new Error('connection closed without a violation');
}

beforeAll(async () => {
  bus = await startSecuredNats();
  // Each owner creates its own streams and buckets, as the services do at start.
  await new JetStreamEventStore(await as('registry')).ensureStreams(['registry']);
  await new JetStreamEventStore(await as('ca')).ensureStreams(['ca']);
  await new Kvm(await as('gateway')).create('GATEWAY_TOKENS', { history: 1, storage: 'file' });
}, 60_000);

afterAll(async () => {
  await Promise.all(open.map((nc) => nc.close()));
  await bus?.stop();
});

describe('the production NATS configuration (deploy/nats/nats.conf)', () => {
  it('refuses a client without credentials, and one with a wrong password', async () => {
    const ca = await readFile(bus.caFile, 'utf8');
    await expect(connectNats({ servers: bus.url, tls: { ca } })).rejects.toThrow(/Authorization Violation/);
    await expect(connectNats({ servers: bus.url, tls: { ca }, user: 'registry', pass: 'wrong' })).rejects.toThrow(
      /Authorization Violation/,
    );
  });

  it('requires TLS: a plain-text CONNECT with valid credentials is dropped without a PONG', async () => {
    const socket = tcpConnect(bus.port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString();
      if (received.includes('\r\n') && !received.includes('CONNECT-SENT')) {
        const connectLine = JSON.stringify({
          user: 'fleet',
          pass: bus.passwords.fleet,
          verbose: false,
          pedantic: false,
        });
        socket.write(`CONNECT ${connectLine}\r\nPING\r\n`);
        received += 'CONNECT-SENT';
      }
    });
    await new Promise((resolve) => socket.once('close', resolve));
    expect(received).toMatch(/"tls_required":true/);
    expect(received).not.toMatch(/PONG/);
  });

  it('connects over TLS with the settings from the environment (NATS_TLS_CA_FILE) and works', async () => {
    const nc = await as('registry');
    expect(nc.info?.tls_required).toBe(true);
    await expect(nc.flush()).resolves.toBeUndefined();
  });

  it('lets a device neither send an operator command, nor write an event, nor call the JetStream API', async () => {
    const registry = await as('registry');
    const received: string[] = [];
    registry.subscribe('cmd.registry.>', { callback: (_e, msg) => void received.push(msg.subject) });
    await registry.flush();
    const device = await as('fleet');

    const refusedCommand = violation(device, 'cmd.registry.create-batch');
    device.publish('cmd.registry.create-batch', JSON.stringify({ actor: 'admin', batchId: 'b-1' }));
    await expect(refusedCommand).resolves.toMatch(/Permissions Violation for Publish/);

    const refusedEvent = violation(device, 'registry.batch.b-forged');
    device.publish('registry.batch.b-forged', '{}');
    await expect(refusedEvent).resolves.toMatch(/Permissions Violation for Publish/);

    for (const api of ['$JS.API.INFO', '$JS.API.STREAM.PURGE.REGISTRY']) {
      const refusedApi = violation(device, api);
      device.publish(api, '{}');
      await expect(refusedApi).resolves.toMatch(/Permissions Violation for Publish/);
    }

    // Every refused message was processed (the server answered a PING after them): nothing arrived.
    await device.flush();
    await registry.flush();
    expect(received).toEqual([]);
    const stream = await (await jetstreamManager(registry)).streams.info('REGISTRY');
    expect(stream.state.messages).toBe(0);
  });

  it('carries signed uplinks from devices to the platform and downlinks back, and nothing else', async () => {
    const registry = await as('registry');
    const device = await as('fleet');
    const uplink = new Promise<string>((resolve) =>
      registry.subscribe('dev.*.*', { max: 1, callback: (_e, msg) => resolve(msg.subject) }),
    );
    const downlink = new Promise<string>((resolve) =>
      device.subscribe('dev.*.inbox.>', { max: 1, callback: (_e, msg) => resolve(msg.subject) }),
    );
    await Promise.all([registry.flush(), device.flush()]);
    device.publish('dev.d-1.announce', '{}');
    await expect(uplink).resolves.toBe('dev.d-1.announce');
    registry.publish('dev.d-1.inbox.challenge', '{}');
    await expect(downlink).resolves.toBe('dev.d-1.inbox.challenge');
    // a device cannot forge a platform downlink for another device
    const refused = violation(device, 'dev.d-2.inbox.challenge');
    device.publish('dev.d-2.inbox.challenge', '{}');
    await expect(refused).resolves.toMatch(/Permissions Violation for Publish/);
  });

  it("lets the registry write its own stream but not another service's, nor purge or delete it, nor the gateway's token bucket", async () => {
    const registry = await as('registry');
    const js = (await jetstreamManager(registry)).jetstream();
    // its own stream: allowed (so the refusals below are about ownership, not a broken connection)
    await expect(js.publish('registry.batch.b-own', '{}')).resolves.toMatchObject({ stream: 'REGISTRY' });

    const refusedEvent = violation(registry, 'ca.certificate.c-forged');
    registry.publish('ca.certificate.c-forged', '{}');
    await expect(refusedEvent).resolves.toMatch(/Permissions Violation for Publish/);

    const jsm = await jetstreamManager(registry);
    await expect(jsm.streams.purge('CA')).rejects.toThrow(/Permissions Violation/);
    await expect(jsm.streams.delete('CA')).rejects.toThrow(/Permissions Violation/);

    const refusedToken = violation(registry, '$KV.GATEWAY_TOKENS.admin');
    registry.publish('$KV.GATEWAY_TOKENS.admin', JSON.stringify({ role: 'admin' }));
    await expect(refusedToken).resolves.toMatch(/Permissions Violation for Publish/);

    await registry.flush();
    const ca = await jetstreamManager(await as('ca'));
    expect((await ca.streams.info('CA')).state.messages).toBe(0);
    const tokens = await new Kvm(await as('gateway')).open('GATEWAY_TOKENS');
    expect(await tokens.get('admin')).toBeNull();
  });

  it('lets OTA write its stream and images, offer to devices and hear their uplinks; the gateway upload images; no one else write them', async () => {
    const ota = await as('ota');
    await expect(
      new JetStreamEventStore(ota).ensureStreams(['ota', 'registry', 'onboarding']),
    ).resolves.toBeUndefined();
    const js = (await jetstreamManager(ota)).jetstream();
    await expect(js.publish('ota.rollout.r-1', '{}')).resolves.toMatchObject({ stream: 'OTA' });
    // The image store: OTA creates it and writes a rollout's image; the gateway streams an upload in.
    const images = await new Objm(ota).create('OTA_IMAGES', { storage: 'file' });
    await images.putBlob({ name: 'rollout-r-1' }, new Uint8Array(300_000).fill(7));
    await images.putBlob({ name: 'rollout-r-1' }, new Uint8Array(1_000).fill(8)); // a retried start replaces it
    const uploads = await new Objm(await as('gateway')).open('OTA_IMAGES');
    await uploads.putBlob({ name: 'upload-1' }, new Uint8Array(200_000).fill(9));
    await expect(images.getBlob('upload-1')).resolves.toHaveLength(200_000);
    await expect(uploads.delete('upload-1')).resolves.toMatchObject({ success: true });
    expect((await images.getBlob('rollout-r-1'))?.[0]).toBe(8);
    // Devices: OTA hears their uplinks and writes to their inboxes (a chunk frame is a downlink too).
    const device = await as('fleet');
    const uplink = new Promise<string>((resolve) =>
      ota.subscribe('dev.*.*', { max: 1, callback: (_e, msg) => resolve(msg.subject) }),
    );
    const frame = new Promise<string>((resolve) =>
      device.subscribe('dev.d-1.inbox.>', { max: 1, callback: (_e, msg) => resolve(msg.subject) }),
    );
    await Promise.all([ota.flush(), device.flush()]);
    device.publish('dev.d-1.firmware-chunk-request', '{}');
    await expect(uplink).resolves.toBe('dev.d-1.firmware-chunk-request');
    ota.publish('dev.d-1.inbox.firmware-chunk', new Uint8Array([0x54, 0x4b, 0x46, 0x43]));
    await expect(frame).resolves.toBe('dev.d-1.inbox.firmware-chunk');
    // Not another service's events, nor a command; and the registry may not write the images.
    const refusedEvent = violation(ota, 'registry.device.d-1');
    ota.publish('registry.device.d-1', '{}');
    await expect(refusedEvent).resolves.toMatch(/Permissions Violation for Publish/);
    const refusedCommand = violation(ota, 'cmd.registry.CertifyDevices');
    ota.publish('cmd.registry.CertifyDevices', '{}');
    await expect(refusedCommand).resolves.toMatch(/Permissions Violation for Publish/);
    const registry = await as('registry');
    const refusedImage = violation(registry, '$O.OTA_IMAGES.M.cm9sbG91dC1yLTE=');
    registry.publish('$O.OTA_IMAGES.M.cm9sbG91dC1yLTE=', '{}');
    await expect(refusedImage).resolves.toMatch(/Permissions Violation for Publish/);
  });

  it("lets a service ensure the streams it reads when another service owns them (no update of another's stream)", async () => {
    // CA exists (the ca user made it); the registry reads it and may not update it.
    const store = new JetStreamEventStore(await as('registry'));
    await expect(store.ensureStreams(['registry', 'ca', 'revocation'])).resolves.toBeUndefined();
    const jsm = await jetstreamManager(await as('revocation'));
    expect((await jsm.streams.info('REVOCATION')).config.subjects).toEqual(['revocation.>']);
  });

  it("lets no device, no other service and not the gateway send a query to the registry (only the registry subscribes to its query subjects); and keeps the gateway's idempotency bucket the gateway's", async () => {
    const registry = await as('registry');
    const received: string[] = [];
    registry.subscribe('query.registry.>', { callback: (_e, msg) => void received.push(msg.subject) });
    await registry.flush();
    for (const user of ['fleet', 'ca', 'gateway'] as const) {
      const nc = await as(user);
      const refused = violation(nc, 'query.registry.device');
      nc.publish('query.registry.device', JSON.stringify({ deviceId: 'd-1' }));
      await expect(refused).resolves.toMatch(/Permissions Violation for Publish/);
      await nc.flush();
    }
    const ca = await as('ca');
    const refusedIdempotency = violation(ca, '$KV.GATEWAY_IDEMPOTENCY.key-1');
    ca.publish('$KV.GATEWAY_IDEMPOTENCY.key-1', '{}');
    await expect(refusedIdempotency).resolves.toMatch(/Permissions Violation for Publish/);
    await registry.flush();
    expect(received).toEqual([]);
  });

  it("lets onboarding ask a broker's agent to install trust and hear its connections, and the agent do nothing else", async () => {
    const agent = await as('broker_agent');
    const onboarding = await as('onboarding');
    // The agent answers installs (subjects of @tunnelkey/broker-link: broker-agent.<brokerId>.<what>).
    agent.subscribe('broker-agent.broker-1.apply-trust', {
      callback: (_e, msg) => void msg.respond(JSON.stringify({ ok: true, reloadMs: 1 })),
    });
    await agent.flush();
    const reply = await onboarding.request('broker-agent.broker-1.apply-trust', '{}', { timeout: 5_000 });
    expect(reply.json()).toEqual({ ok: true, reloadMs: 1 });
    const heard: string[] = [];
    onboarding.subscribe('broker-agent.*.connections', { callback: (_e, msg) => void heard.push(msg.string()) });
    await onboarding.flush();
    agent.publish('broker-agent.broker-1.connections', '{"kind":"connected","clientId":"d-1"}');
    await agent.flush();
    await onboarding.flush();
    expect(heard).toEqual(['{"kind":"connected","clientId":"d-1"}']);
    // Nothing else: no event, no command, no JetStream API.
    for (const subject of ['onboarding.device.d-1', 'cmd.onboarding.onboard-batch', '$JS.API.INFO']) {
      const refused = violation(agent, subject);
      agent.publish(subject, '{}');
      await expect(refused).resolves.toMatch(/Permissions Violation for Publish/);
    }
    // And no device may ask an agent for anything.
    const device = await as('fleet');
    const refused = violation(device, 'broker-agent.broker-1.apply-trust');
    device.publish('broker-agent.broker-1.apply-trust', '{}');
    await expect(refused).resolves.toMatch(/Permissions Violation for Publish/);
  });

  it('lets no service but the gateway send a command', async () => {
    const ca = await as('ca');
    const refused = violation(ca, 'cmd.registry.revoke-device');
    ca.publish('cmd.registry.revoke-device', '{}');
    await expect(refused).resolves.toMatch(/Permissions Violation for Publish/);
  });

  it('delivers a command from the gateway user to a service started with startService and its credentials from the environment, which answers', async () => {
    @Controller()
    class EchoController {
      @MessagePattern('cmd.registry.echo')
      echo(@Payload() payload: { actor: string }) {
        return { heard: payload.actor };
      }
    }
    @Module({ controllers: [EchoController] })
    class EchoModule {}

    const saved = { ...process.env };
    Object.assign(process.env, envOf('registry'));
    let service: Awaited<ReturnType<typeof startService>> | undefined;
    try {
      service = await startService({ service: 'registry', module: EchoModule, logger: false });
    } finally {
      for (const key of Object.keys(envOf('registry'))) {
        if (saved[key] === undefined) delete process.env[key];
        else process.env[key] = saved[key];
      }
    }
    try {
      const gateway = new CommandClient(await as('gateway'));
      await expect(gateway.request('cmd.registry.echo', { actor: 'operator-1' })).resolves.toEqual({
        heard: 'operator-1',
      });
    } finally {
      await service.stop();
    }
  });
});
