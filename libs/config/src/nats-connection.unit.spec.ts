import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, natsConnectionConfig, natsConnectionOptions } from './index.js';

const options = (env: Record<string, string>) => natsConnectionOptions(natsConnectionConfig(env), { name: 'svc' });

describe('NATS connection options from the environment', () => {
  it('are the loopback defaults without credentials or TLS (the dev server)', async () => {
    await expect(options({})).resolves.toEqual({ servers: ['nats://127.0.0.1:4222'], name: 'svc' });
  });

  it('name every server of a cluster (NATS_URL separated by commas), so the client fails over to any', async () => {
    await expect(options({ NATS_URL: 'nats://n1:4222, nats://n2:4222/,nats://n3:4222' })).resolves.toMatchObject({
      servers: ['nats://n1:4222', 'nats://n2:4222', 'nats://n3:4222'],
    });
  });

  it('carry a user and password, and TLS material read from the files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tk-nats-conn-'));
    writeFileSync(join(dir, 'ca.pem'), 'CA PEM');
    writeFileSync(join(dir, 'cert.pem'), 'CERT PEM');
    writeFileSync(join(dir, 'key.pem'), 'KEY PEM');
    await expect(
      options({
        NATS_URL: 'tls://nats:4222',
        NATS_USER: 'registry',
        NATS_PASSWORD: 'pw',
        NATS_TLS_CA_FILE: join(dir, 'ca.pem'),
        NATS_TLS_CERT_FILE: join(dir, 'cert.pem'),
        NATS_TLS_KEY_FILE: join(dir, 'key.pem'),
      }),
    ).resolves.toEqual({
      servers: ['tls://nats:4222'],
      name: 'svc',
      user: 'registry',
      pass: 'pw',
      tls: { ca: 'CA PEM', cert: 'CERT PEM', key: 'KEY PEM' },
    });
  });

  it('build an authenticator from an NKey seed file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tk-nats-conn-'));
    // A valid user seed (nkeys test vector format): the authenticator signs the nonce with it.
    const { createUser } = await import('@nats-io/nkeys');
    const seed = new TextDecoder().decode(createUser().getSeed());
    writeFileSync(join(dir, 'user.nk'), `${seed}\n`);
    const built = await options({ NATS_NKEY_SEED_FILE: join(dir, 'user.nk') });
    const auth = built.authenticator as (nonce?: string) => { nkey?: string; sig?: Uint8Array };
    expect(auth('nonce').nkey).toMatch(/^U[A-Z0-9]{55}$/);
  });

  it.each([
    [{ NATS_USER: 'u' }, 'NATS_PASSWORD'],
    [{ NATS_PASSWORD: 'secret-value' }, 'NATS_USER'],
    [{ NATS_USER: 'u', NATS_PASSWORD: 'secret-value', NATS_TOKEN: 'secret-token' }, 'NATS_TOKEN'],
    [{ NATS_TLS_CERT_FILE: '/c.pem' }, 'NATS_TLS_KEY_FILE'],
    [{ NATS_CREDS_FILE: '/does/not/exist.creds' }, 'NATS_CREDS_FILE'],
  ])(
    'refuse contradictory or unreadable settings with a ConfigError naming the variable, never a value (%j)',
    async (env, variable) => {
      const error = await options(env).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).context).toEqual({ variable });
      expect((error as Error).message).not.toMatch(/secret-/);
    },
  );
});
