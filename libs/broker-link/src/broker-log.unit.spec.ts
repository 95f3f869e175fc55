import { parseBrokerLogLine } from './broker-log.js';

describe('Mosquitto 2.0 log lines', () => {
  test.each([
    [
      "2026-01-01T00:00:00: New client connected from 127.0.0.1:56322 as d-1 (p5, c1, k60, u'd-1').",
      { kind: 'connected', clientId: 'd-1', username: 'd-1' },
    ],
    [
      '2026-01-01T00:00:00: Client d-1 disconnected.',
      { kind: 'disconnected', clientId: 'd-1', reason: 'client-closed' },
    ],
    [
      '2026-01-01T00:00:00: Client d-1 closed its connection.',
      { kind: 'disconnected', clientId: 'd-1', reason: 'client-closed' },
    ],
    [
      '2026-01-01T00:00:00: Client d-1 been disconnected by administrative action.',
      { kind: 'disconnected', clientId: 'd-1', reason: 'client-disabled' },
    ],
    [
      '2026-01-01T00:00:00: Client d-1 already connected, closing old connection.',
      { kind: 'disconnected', clientId: 'd-1', reason: 'session-taken-over' },
    ],
    [
      '2026-01-01T00:00:00: Client d-1 has exceeded timeout, disconnecting.',
      { kind: 'disconnected', clientId: 'd-1', reason: 'keepalive-timeout' },
    ],
    [
      '2026-01-01T00:00:00: Socket error on client d-1, disconnecting.',
      { kind: 'disconnected', clientId: 'd-1', reason: 'unknown' },
    ],
    ['2026-01-01T00:00:00: Reloading config.', { kind: 'reloaded' }],
    ['2026-01-01T00:00:00: mosquitto version 2.0.11 starting', { kind: 'started' }],
    [
      '2026-11-27T16:13:15: Error: Unable to load certificate revocation file "/tmp/b/crl.pem". Check crlfile.',
      {
        kind: 'reload-failed',
        detail: 'Error: Unable to load certificate revocation file "/tmp/b/crl.pem". Check crlfile.',
      },
    ],
  ])('%s', (line, fact) => {
    expect(parseBrokerLogLine(line)).toEqual(fact);
  });

  test('handshake failures and other lines are not connection facts', () => {
    expect(parseBrokerLogLine('2026-01-01T00:00:00: Client <unknown> disconnected: Protocol error.')).toBeUndefined();
    expect(
      parseBrokerLogLine(
        '2026-01-01T00:00:00: OpenSSL Error[0]: error:0A000086:SSL routines::certificate verify failed',
      ),
    ).toBeUndefined();
    expect(parseBrokerLogLine('2026-01-01T00:00:00: New connection from 127.0.0.1:1 on port 8883.')).toBeUndefined();
  });
});
