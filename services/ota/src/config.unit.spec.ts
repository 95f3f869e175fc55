import { ConfigError, readmeConfigSection } from '@tunnelkey/config';
import { otaConfigFromEnv, otaConfigSchema } from './config.js';

describe('ota configuration', () => {
  it("keeps the README's configuration table in step with the schema (UPDATE_DOCS=1 rewrites it)", () => {
    const readme = new URL('../README.md', import.meta.url).pathname;
    const { actual, expected } = readmeConfigSection(readme, otaConfigSchema, {
      write: process.env.UPDATE_DOCS === '1',
    });
    expect(actual).toBe(expected);
  });

  it('has the documented defaults (64 MiB images, 64 KiB chunks); the KEK is not in it', () => {
    const config = otaConfigFromEnv({ OTA_KEK: 'ab'.repeat(32) });
    expect(config).toMatchObject({ httpPort: 3105, maxImageBytes: 64 * 1024 * 1024, chunkBytes: 64 * 1024 });
    expect(config).not.toHaveProperty('kek');
  });

  it('names the variable that is wrong', () => {
    expect(() => otaConfigFromEnv({ OTA_CHUNK_BYTES: '600000' })).toThrow(ConfigError);
    expect(() => otaConfigFromEnv({ OTA_MAX_IMAGE_BYTES: 'big' })).toThrow(/OTA_MAX_IMAGE_BYTES/);
  });
});
