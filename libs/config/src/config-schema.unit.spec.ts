import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { common, ConfigError, defineConfig, integer, oneOf, optionalText, readmeConfigSection, text } from './index.js';

const schema = defineConfig({
  natsUrl: common.natsUrl,
  namespace: common.namespace,
  port: integer('HTTP_PORT', 3100, 'Port of /health, /ready, /metrics', { max: 65_535 }),
  mode: oneOf('MODE', ['a', 'b'], 'a', 'Mode'),
  name: text('NAME', 'x', 'A | name'),
  key: optionalText('SECRET_KEY', 'A secret', { secret: true }),
});

describe('a configuration schema', () => {
  it('gives the defaults on an empty environment (blank counts as unset)', () => {
    expect(schema.read({ NAME: '  ' })).toEqual({
      natsUrl: 'nats://127.0.0.1:4222',
      namespace: '',
      port: 3100,
      mode: 'a',
      name: 'x',
      key: undefined,
    });
  });

  it('reads and validates each variable', () => {
    expect(
      schema.read({
        HTTP_PORT: '8080',
        MODE: 'b',
        NATS_URL: 'tls://nats:4222/',
        TUNNELKEY_NAMESPACE: 't1',
        SECRET_KEY: 'k',
      }),
    ).toMatchObject({ port: 8080, mode: 'b', natsUrl: 'tls://nats:4222', namespace: 't1', key: 'k' });
  });

  it.each([
    ['HTTP_PORT', '70000', /HTTP_PORT must be an integer from 0 to 65535/],
    ['HTTP_PORT', '1.5', /HTTP_PORT must be an integer/],
    ['MODE', 'c', /MODE must be one of a, b/],
    ['NATS_URL', 'http://x', /NATS_URL must be a nats or tls URL/],
    ['NATS_URL', 'nats://a:4222,http://b', /NATS_URL must be a nats or tls URL/],
    ['NATS_URL', 'nats://a:4222,,nats://b:4222', /NATS_URL must be URLs separated by commas/],
    ['TUNNELKEY_NAMESPACE', 'A B', /TUNNELKEY_NAMESPACE must match/],
  ])('refuses %s=%s with a ConfigError naming the variable, not the value', (variable, value, message) => {
    let thrown: unknown;
    try {
      schema.read({ [variable]: value });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).message).toMatch(message);
    expect((thrown as ConfigError).context).toEqual({ variable });
    if (value.length > 2) expect((thrown as ConfigError).message).not.toContain(value);
  });

  it('writes its README table between markers, and tells when it is out of date', () => {
    const readme = join(mkdtempSync(join(tmpdir(), 'cfg-')), 'README.md');
    writeFileSync(readme, '# svc\n');
    expect(readmeConfigSection(readme, schema).actual).toBe('');
    readmeConfigSection(readme, schema, { write: true });
    const { expected, actual } = readmeConfigSection(readme, schema);
    expect(actual).toBe(expected);
    expect(readFileSync(readme, 'utf8')).toContain('| `HTTP_PORT` | `3100` | Port of /health, /ready, /metrics |');
    expect(readFileSync(readme, 'utf8')).toContain('A \\| name');
    writeFileSync(readme, readFileSync(readme, 'utf8').replace('`3100`', '`3101`'));
    expect(readmeConfigSection(readme, schema).actual).not.toBe(expected);
  });
});
