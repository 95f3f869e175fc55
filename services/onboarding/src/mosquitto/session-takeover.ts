/**
 * A session takeover on the broker's admin listener, with nothing but the three packets it takes:
 * CONNECT (MQTT 3.1.1, clean session) as the admin user with the device's client id, the broker's
 * CONNACK (by then it has closed the device's session: "already connected, closing old
 * connection"), DISCONNECT. A full mqtt.js client per takeover cost about 1 ms of this process's
 * CPU per device (profiled in `npm run bench:revoke -- --profile DIR`); a batch of 1,000 devices
 * cut off waited on it.
 */
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import type { DynsecEndpoint } from './dynsec-client.js';

const connack = 0x20;
const disconnect = Buffer.from([0xe0, 0x00]);

/** CONNACK return codes of MQTT 3.1.1, for the error message. */
const refusals: Record<number, string> = {
  1: 'unacceptable protocol version',
  2: 'identifier rejected',
  3: 'server unavailable',
  4: 'bad user name or password',
  5: 'not authorised',
};

const utf8 = (text: string): Buffer => {
  const bytes = Buffer.from(text, 'utf8');
  const length = Buffer.alloc(2);
  length.writeUInt16BE(bytes.length);
  return Buffer.concat([length, bytes]);
};

/** The remaining-length field: 7 bits a byte, high bit set while more follow. */
const remainingLength = (n: number): Buffer => {
  const bytes: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    bytes.push(byte);
  } while (n > 0);
  return Buffer.from(bytes);
};

/** CONNECT, MQTT 3.1.1: user name and password, clean session, keep-alive 10 s. */
export function connectPacket(clientId: string, username: string, password: string): Buffer {
  const variableHeader = Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0xc2, 0x00, 0x0a]);
  const body = Buffer.concat([variableHeader, utf8(clientId), utf8(username), utf8(password)]);
  return Buffer.concat([Buffer.from([0x10]), remainingLength(body.length), body]);
}

/**
 * Connects to the admin listener as `clientId` and leaves again; resolves once the broker accepted
 * the connection (the device's session, if any, is closed by then). Rejects when the broker refuses
 * it, cannot be reached, or does not answer within `timeoutMs`.
 */
export function takeSessionOver(endpoint: DynsecEndpoint, clientId: string, timeoutMs = 5_000): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const { host, port, tls } = endpoint;
    const socket: Socket = tls
      ? connectTls({ host, port, ca: tls.caPem, servername: host, rejectUnauthorized: true })
      : connectTcp({ host, port, noDelay: true });
    let received = Buffer.alloc(0);
    let settled = false;
    const settle = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) {
        socket.destroy();
        reject(error);
      } else resolve();
    };
    const timer = setTimeout(
      () => settle(new Error(`no CONNACK from ${host}:${port} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.once(tls ? 'secureConnect' : 'connect', () =>
      socket.write(connectPacket(clientId, endpoint.username, endpoint.password)),
    );
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (settled || received.length < 4) return;
      if (received[0] !== connack)
        return settle(new Error(`unexpected packet 0x${received[0]!.toString(16)}, not CONNACK`));
      const code = received[3]!;
      if (code !== 0)
        return settle(new Error(`the broker refused the admin connection: ${refusals[code] ?? `code ${code}`}`));
      socket.end(disconnect);
      settle();
    });
    socket.on('error', (error) => settle(error));
    socket.on('close', () => settle(new Error(`connection to ${host}:${port} closed before CONNACK`)));
  });
}
