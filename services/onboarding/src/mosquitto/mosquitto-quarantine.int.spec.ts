/**
 * Quarantine at a real Mosquitto 2.0.11 (startMosquitto from @tunnelkey/testing): a connected
 * device is restricted to its quarantine topic without losing its session, stays restricted when
 * it reconnects, and gets its rights back on release. This is the measurement the adapter's
 * design rests on (an explicit dynamic-security deny wins over the acl_file, checked per PUBLISH).
 */
import { generateP256KeyPair, WebCryptoSigner } from '@tunnelkey/pki';
import {
  createBrokerServerIdentity,
  startMosquitto,
  waitFor,
  type BrokerServerIdentity,
  type RunningMosquitto,
} from '@tunnelkey/testing';
import type { MqttClient } from 'mqtt';
import { TargetAuthority } from '../target-authority/target-authority.js';
import { connectDevice } from '../test-support/mqtt-device.test-helper.js';
import { createTestAuthority, issueTestDevice, type TestDevice } from '../test-support/test-pki.test-helper.js';
import { quarantineTopic } from '../target-port/topic-plan.js';
import { readFile, writeFile } from 'node:fs/promises';
import { DynsecClient } from './dynsec-client.js';
import { quarantineDevices, releaseDevices } from './mosquitto-quarantine.js';

const notAuthorised = /not authori[sz]ed|135/i;

describe('Quarantine at a real Mosquitto 2.0 (dynamic-security deny over the acl_file)', () => {
  let broker: RunningMosquitto;
  let server: BrokerServerIdentity;
  let dynsec: DynsecClient;
  const target = {
    quarantineDevices: (ids: string[]) => quarantineDevices(dynsec, ids),
    releaseDevices: (ids: string[]) => releaseDevices(dynsec, ids),
  };
  const devices: Record<string, TestDevice> = {};
  const clients: MqttClient[] = [];
  const connect = async (deviceId: string) => {
    const client = await connectDevice(devices[deviceId], { port: broker.tlsPort, serverCaPem: server.caPem });
    clients.push(client);
    return client;
  };
  const telemetry = (client: MqttClient, deviceId: string) =>
    client.publishAsync(`devices/${deviceId}/telemetry`, '{"t":4}', { qos: 1 });

  beforeAll(async () => {
    server = await createBrokerServerIdentity();
    const platform = await createTestAuthority('acme');
    const authority = await TargetAuthority.selfSigned(
      'broker-q',
      await WebCryptoSigner.fromKeyPair(await generateP256KeyPair()),
      new Date(),
    );
    for (const id of ['d-quiet', 'd-tampered', 'd-neighbour']) {
      const device = await issueTestDevice(platform, id);
      const issued = await authority.issue({
        deviceId: id,
        publicKeySpki: device.spkiDer,
        notBefore: new Date(Date.now() - 3600_000),
        notAfter: new Date(Date.now() + 3600_000),
      });
      devices[id] = { ...device, certificatePem: issued.certificatePem, serialHex: issued.serialNumber };
    }
    const crl = await authority.crl({ crlNumber: 1, revoked: [], now: new Date(), lifetimeMs: 3600_000 });
    broker = await startMosquitto({
      tls: { caPem: authority.certificatePem, certPem: server.certPem, keyPem: server.keyPem, crlPem: crl.crlPem },
      dynsec: true,
    });
    // The devices' rights as onboarding writes them (an acl_file pattern), then the reload that reads them.
    await writeFile(broker.aclFile, 'pattern write devices/%u/telemetry\n');
    const logBefore = (await readFile(broker.logFile, 'utf8')).length;
    process.kill(Number((await readFile(broker.pidFile, 'utf8')).trim()), 'SIGHUP');
    await waitFor(
      async () => (await readFile(broker.logFile, 'utf8')).slice(logBefore).includes('Reloading config') || undefined,
    );
    dynsec = await DynsecClient.connect({ host: broker.host, port: broker.adminPort, ...broker.admin });
  }, 120_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    await dynsec?.close();
    await broker?.stop();
  }, 30_000);

  test('a quarantined device keeps its session, may publish only to its quarantine topic, and gets its rights back on release', async () => {
    const tampered = await connect('d-tampered');
    const neighbour = await connect('d-neighbour');
    await telemetry(tampered, 'd-tampered');

    expect(await target.quarantineDevices(['d-tampered'])).toEqual([{ ok: true, deviceId: 'd-tampered' }]);
    await expect(telemetry(tampered, 'd-tampered')).rejects.toThrow(notAuthorised);
    await tampered.publishAsync(quarantineTopic('d-tampered'), '{"report":"measurement"}', { qos: 1 });
    // Another device's quarantine topic stays closed to it.
    await expect(tampered.publishAsync(quarantineTopic('d-neighbour'), 'x', { qos: 1 })).rejects.toThrow(notAuthorised);
    expect(tampered.connected).toBe(true);
    // Nobody else is touched.
    await telemetry(neighbour, 'd-neighbour');

    // Quarantining again is a no-op; a reconnect is just as restricted.
    expect(await target.quarantineDevices(['d-tampered'])).toEqual([{ ok: true, deviceId: 'd-tampered' }]);
    await tampered.endAsync();
    const again = await connect('d-tampered');
    await expect(telemetry(again, 'd-tampered')).rejects.toThrow(notAuthorised);
    await again.publishAsync(quarantineTopic('d-tampered'), 'still here', { qos: 1 });

    expect(await target.releaseDevices(['d-tampered'])).toEqual([{ ok: true, deviceId: 'd-tampered' }]);
    await telemetry(again, 'd-tampered');
    expect(await target.releaseDevices(['d-tampered'])).toEqual([{ ok: true, deviceId: 'd-tampered' }]);
  }, 60_000);

  test('quarantine takes effect on the live session by the time the call returns (figure printed)', async () => {
    const quiet = await connect('d-quiet');
    const started = performance.now();
    await target.quarantineDevices(['d-quiet']);
    const applied = performance.now() - started;
    await expect(telemetry(quiet, 'd-quiet')).rejects.toThrow(notAuthorised);
    console.log(`quarantine applied at the broker in ${applied.toFixed(1)} ms (one dynamic-security request)`);
    await target.releaseDevices(['d-quiet']);
  }, 60_000);
});
