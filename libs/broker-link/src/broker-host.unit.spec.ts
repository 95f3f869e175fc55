import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@tunnelkey/testing';
import { BrokerHost } from './broker-host.js';
import type { BrokerConnectionFact } from './broker-messages.js';

const connected = (id: string) => `1: New client connected from 127.0.0.1:5 as ${id} (p2, c1, k60, u'${id}').\n`;

describe('BrokerHost: who is connected, from the log', () => {
  let dir: string;
  let host: BrokerHost | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tk-broker-host-'));
  });
  afterEach(async () => {
    host?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const open = (logFile: string) =>
    BrokerHost.open({
      brokerId: 'b-1',
      files: { caFile: join(dir, 'ca'), crlFile: join(dir, 'crl'), aclFile: join(dir, 'acl') },
      reloader: { reload: async () => undefined },
      logFile,
      logPollMs: 5,
    });

  test('what the log held at the start counts (not reported as facts), then what it logs; a broker start clears it', async () => {
    const log = join(dir, 'mosquitto.log');
    await writeFile(
      log,
      [
        '1: mosquitto version 2.0.11 starting\n',
        connected('gone-with-the-old-broker'),
        '2: mosquitto version 2.0.11 starting\n',
        connected('d-1'),
        connected('d-2'),
        '3: Client d-2 disconnected.\n',
        connected('d-3'),
        '4: Client d-3 already connected, closing old connection.\n',
        connected('d-3'),
        'partial line without its end',
      ].join(''),
    );
    host = await open(log);
    const facts: BrokerConnectionFact[] = [];
    host.onConnectionFact((fact) => facts.push(fact));
    expect(host.connectedClients().sort()).toEqual(['d-1', 'd-3']);

    await appendFile(log, `\n${connected('d-4')}5: Client d-1 has exceeded timeout, disconnecting.\n`);
    await waitFor(() => facts.length === 2, { description: 'the new lines read' });
    expect(facts.map((f) => f.clientId)).toEqual(['d-4', 'd-1']);
    expect(host.connectedClients().sort()).toEqual(['d-3', 'd-4']);

    // A killed broker logs no disconnections: its next start says nobody is connected.
    await appendFile(log, '6: mosquitto version 2.0.11 starting\n');
    await waitFor(() => host!.connectedClients().length === 0, { description: 'the start read' });
  });

  test('no log yet: nobody connected, and the log is followed once it appears', async () => {
    const log = join(dir, 'later.log');
    host = await open(log);
    expect(host.connectedClients()).toEqual([]);
    await writeFile(log, connected('d-9'));
    await waitFor(() => host!.connectedClients().includes('d-9'), { description: 'the log read' });
  });
});
