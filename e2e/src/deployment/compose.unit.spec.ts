/**
 * docker-compose.yml, without a Docker engine: read as Compose reads it, and checked against the
 * services themselves (commands the image dispatches, every variable one its service reads with a
 * value its configuration schema accepts, ports at the configured defaults, health checks), against
 * deploy/nats/nats.conf (NATS users) and deploy/mosquitto/mosquitto.conf (the files the broker
 * agent shares with the broker), and against what deploy/compose/prepare.sh writes.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { preparedVariables, readComposeFile, type ComposeService } from './compose-file.js';
import { dispatchEntries, repoRoot } from './deployment-files.js';
import { deployedServices, natsUserOf, natsUsersOf, readsVariable } from './service-settings.js';

const { compose, missing } = readComposeFile(preparedVariables());
const tunnelkeyServices = Object.entries(compose.services).filter(([, s]) => s.image?.startsWith('tunnelkey:'));
const natsConf = readFileSync(join(repoRoot, 'deploy/nats/nats.conf'), 'utf8');
const mosquittoConf = readFileSync(join(repoRoot, 'deploy/mosquitto/mosquitto.conf'), 'utf8');
const prepareScript = readFileSync(join(repoRoot, 'deploy/compose/prepare.sh'), 'utf8');
const mountsOf = (s: ComposeService) =>
  (s.volumes ?? []).map((v) => {
    const [source, target, mode] = v.split(':');
    return { source: source!, target: target!, readOnly: mode === 'ro' };
  });

describe('docker-compose.yml', () => {
  it('needs only the variables deploy/compose/prepare.sh writes to compose.env', () => {
    expect(missing).toEqual([]);
    expect(readComposeFile({}).missing.length).toBeGreaterThan(0); // refused without them, with a message
  });

  it('runs every platform service and the fleet from the one image, with commands it dispatches', () => {
    const entries = dispatchEntries();
    const commands = tunnelkeyServices.map(([name, s]) => ({ name, command: s.command?.[0] }));
    expect(commands.map((c) => c.name).sort()).toEqual([...Object.keys(deployedServices), 'fleet'].sort());
    for (const { name, command } of commands) {
      expect({ name, command }).toEqual({ name, command: name });
      expect(Object.keys(entries)).toContain(command);
    }
    // The version the image, the manifests and /health report: package.json's.
    const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
    for (const [, s] of tunnelkeyServices) expect(s.image).toBe(`tunnelkey:${version}`);
  });

  it('gives each service only variables it reads, with values its configuration schema accepts, at its port', () => {
    for (const [name, s] of tunnelkeyServices.filter(([name]) => name !== 'fleet')) {
      const settings = deployedServices[name]!;
      const env = s.environment ?? {};
      const unread = Object.keys(env).filter((variable) => !readsVariable(settings, variable));
      expect({ name, unread }).toEqual({ name, unread: [] });
      expect(() => settings.schema.read(env)).not.toThrow();
      // The gateway's port falls back on HTTP_PORT, as every other service reads it.
      expect({ name, port: env.HTTP_PORT }).toEqual({ name, port: String(settings.port) });
      expect(s.ports).toContain(`${settings.port}:${settings.port}`);
      expect(s.healthcheck?.test).toEqual(['CMD', 'tunnelkey', 'healthcheck']);
      for (const [variable, path] of Object.entries(env).filter(([v]) => v.endsWith('_FILE'))) {
        expect({
          name,
          variable,
          mounted: mountsOf(s).some((m) => m.target === path || path.startsWith(`${m.target}/`)),
        }).toEqual({
          name,
          variable,
          mounted: true,
        });
      }
    }
  });

  it("names the CA's own address as the CRL distribution point", () => {
    const ca = compose.services.ca!;
    expect(ca.environment?.CRL_BASE_URL).toBe(`http://ca:${deployedServices.ca!.port}/crl`);
  });

  it('has a health check on every long-running service', () => {
    const withoutCheck = Object.entries(compose.services)
      .filter(([name, s]) => !['broker-init', 'fleet'].includes(name) && !s.healthcheck?.test)
      .map(([name]) => name);
    expect(withoutCheck).toEqual([]);
  });

  it('configures NATS from deploy/nats/nats.conf and connects each service as its own user', () => {
    const nats = compose.services.nats!;
    expect(nats.command).toEqual(['-c', '/etc/nats/nats.conf']);
    expect(mountsOf(nats)).toContainEqual({
      source: './deploy/nats/nats.conf',
      target: '/etc/nats/nats.conf',
      readOnly: true,
    });
    const { users, passwordVariables } = natsUsersOf(natsConf);
    expect(Object.keys(nats.environment ?? {}).sort()).toEqual([...passwordVariables].sort());
    const passwords = preparedVariables();
    for (const [name, s] of tunnelkeyServices) {
      const user = s.environment?.NATS_USER;
      expect({ name, user }).toEqual({ name, user: natsUserOf(name) });
      expect(s.environment?.NATS_PASSWORD).toBe(passwords[`NATS_${natsUserOf(name).toUpperCase()}_PASSWORD`]);
      expect(s.environment?.NATS_URL).toBe('tls://nats:4222');
      // The OTA user is still a template in nats.conf: OTA starts only with its own profile.
      if (!users.includes(natsUserOf(name)))
        expect({ name, profiles: s.profiles }).toEqual({ name, profiles: ['ota'] });
    }
  });

  it('runs the broker agent beside the broker: its processes, its user and the files mosquitto.conf names', () => {
    const agent = compose.services['broker-agent']!;
    const mosquitto = compose.services.mosquitto!;
    expect(agent.pid).toBe('service:mosquitto');
    expect(agent.user).toBe('1883:1883'); // the user the broker drops to: a SIGHUP needs it
    expect(mountsOf(mosquitto)).toContainEqual({
      source: './deploy/mosquitto/mosquitto.conf',
      target: '/mosquitto/config/mosquitto.conf',
      readOnly: true,
    });
    const config = deployedServices['broker-agent']!.schema.read(agent.environment ?? {}) as Record<string, unknown>;
    const confValue = (key: string) => new RegExp(`^${key} (.+)$`, 'm').exec(mosquittoConf)?.[1];
    const files = {
      caFile: confValue('cafile'),
      crlFile: confValue('crlfile'),
      aclFile: confValue('acl_file'),
      pidFile: confValue('pid_file'),
      logFile: confValue('log_dest file'),
    };
    expect({ ...files, ...Object.fromEntries(Object.keys(files).map((k) => [k, config[k]])) }).toEqual(files);
    // Each of those directories is one volume, mounted in both (the agent writes only the trust files).
    for (const file of Object.values(files)) {
      const dir = file!.slice(0, file!.lastIndexOf('/'));
      const ours = mountsOf(agent).find((m) => m.target === dir);
      const broker = mountsOf(mosquitto).find((m) => m.target === dir);
      expect({ dir, ours: ours?.source }).toEqual({ dir, ours: broker?.source });
      expect({ dir, readOnly: ours!.readOnly }).toEqual({ dir, readOnly: dir !== '/mosquitto/trust' });
    }
    expect(agent.depends_on?.mosquitto).toEqual({ condition: 'service_healthy' });
  });

  it('lets onboarding reach the broker over the network only: no broker file, process or network of its own', () => {
    const onboarding = compose.services.onboarding!;
    expect(onboarding.network_mode).toBeUndefined();
    expect(onboarding.pid).toBeUndefined();
    expect(mountsOf(onboarding).filter((m) => m.target.startsWith('/mosquitto'))).toEqual([]);
    // The broker's server CA, which devices get to verify the broker: a file mounted into onboarding.
    const serverCaFiles = Object.values(JSON.parse(onboarding.environment!.MOSQUITTO_SERVER_CA_FILES!) as object);
    for (const file of serverCaFiles) expect(mountsOf(onboarding).map((m) => m.target)).toContain(file);
    // The admin listener onboarding uses is TLS on the compose network, never published.
    const admin = /^listener (\d+)\n((?:(?!listener).*\n)*)/m.exec(mosquittoConf.split(/^# Administration/m)[1] ?? '');
    expect(admin?.[1]).toBe('8884');
    expect(admin?.[2]).toMatch(/^certfile /m);
    expect(compose.services.mosquitto!.ports).toEqual(['8883:8883']);
  });

  it('mounts only files of the repository or files deploy/compose/prepare.sh writes', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const { source } of mountsOf(s).filter((m) => m.source.startsWith('./'))) {
        if (source.startsWith('./.tunnelkey/compose/')) {
          const written = source.slice('./.tunnelkey/compose/'.length).split('/')[0]!;
          expect({ name, source, written: prepareScript.includes(written) }).toEqual({ name, source, written: true });
        } else {
          expect({ name, source, exists: existsSync(join(repoRoot, source)) }).toEqual({ name, source, exists: true });
        }
      }
      for (const { source } of mountsOf(s).filter((m) => !m.source.startsWith('./') && !m.source.startsWith('/'))) {
        expect(Object.keys(compose.volumes)).toContain(source);
      }
    }
  });

  it('parses with `docker compose config` where the Compose plugin is installed', () => {
    let available = true;
    try {
      execFileSync('docker', ['compose', 'version'], { stdio: 'ignore' });
    } catch {
      available = false;
    }
    if (!available) {
      console.warn('docker compose is not installed: `docker compose config` not run (the checks above stand)');
      return;
    }
    const env = { ...process.env, ...preparedVariables() };
    expect(() =>
      execFileSync('docker', ['compose', '-f', join(repoRoot, 'docker-compose.yml'), 'config', '--quiet'], {
        env,
        stdio: 'pipe',
      }),
    ).not.toThrow();
  });
});
