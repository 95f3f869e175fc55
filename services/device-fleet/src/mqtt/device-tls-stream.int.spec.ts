/**
 * The device's TLS stream against a real TLS server with the broker's kind of server identity
 * (a server CA, a certificate for 127.0.0.1 and localhost): the chain checked against the pinned
 * CA, the name against the host dialled, and what fails reaches the MQTT client as an error.
 */
import { EventEmitter, once } from 'node:events';
import { createSecureContext, createServer, type Server, type TLSSocket } from 'node:tls';
import type { MqttClient } from 'mqtt';
import { createBrokerServerIdentity, type BrokerServerIdentity } from '@tunnelkey/testing';
import { deviceTlsStream } from './device-tls-stream.js';

describe('deviceTlsStream', () => {
  let identity: BrokerServerIdentity;
  let other: BrokerServerIdentity;
  const servers: Server[] = [];

  const listen = async (host: string): Promise<number> => {
    const server = createServer({ key: identity.keyPem, cert: identity.certPem }, (socket) => {
      socket.on('error', () => undefined);
      socket.end();
    });
    servers.push(server);
    server.listen(0, host);
    await once(server, 'listening');
    return (server.address() as { port: number }).port;
  };

  /** Dials host:port trusting `caPem`: once secure, whether authorised and the peer's CN as node reads it after; else the error the client was told. */
  const dial = async (host: string, port: number, caPem: string) => {
    const client = new EventEmitter();
    const socket: TLSSocket = deviceTlsStream(
      { host, port },
      createSecureContext({ ca: caPem, minVersion: 'TLSv1.2' }),
    )(client as unknown as MqttClient);
    const outcome = await Promise.race([
      once(socket, 'secureConnect').then(() => ({
        authorized: socket.authorized,
        peerCommonName: socket.getPeerCertificate().subject?.CN,
      })),
      once(client, 'error').then(([error]) => ({ error: error as Error & { code?: string } })),
    ]);
    socket.destroy();
    return outcome;
  };

  beforeAll(async () => {
    [identity, other] = await Promise.all([createBrokerServerIdentity(), createBrokerServerIdentity()]);
  });

  afterAll(async () => {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  });

  test('the broker at the IP address its certificate names, and by its DNS name: connected, the peer certificate readable after', async () => {
    const port = await listen('127.0.0.1');
    for (const host of ['127.0.0.1', 'localhost']) {
      expect(await dial(host, port, identity.caPem)).toEqual({ authorized: true, peerCommonName: 'localhost' });
    }
  });

  test('an address its certificate does not name: refused with node’s altname error', async () => {
    const port = await listen('127.0.0.2');
    const outcome = await dial('127.0.0.2', port, identity.caPem);
    expect(outcome).toHaveProperty('error');
    expect((outcome as { error: { code?: string } }).error.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  test('a broker whose chain does not lead to the pinned CA: refused by the chain check', async () => {
    const port = await listen('127.0.0.1');
    const outcome = await dial('127.0.0.1', port, other.caPem);
    expect(outcome).toHaveProperty('error');
    expect((outcome as { error: { code?: string } }).error.code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });
});
