// One Jest config for the whole workspace. ESM mode (NestJS 12 is ESM-only): run through
// `npm run jest` / `npm test`, which pass --experimental-vm-modules. SWC keeps decorator metadata.
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const swc = JSON.parse(readFileSync(new URL('./.swcrc', import.meta.url), 'utf8'));
delete swc.$schema;

// SoftHSM (the PKCS#11 signer's tests) reads SOFTHSM2_CONF from the real environment, which a test
// cannot change (Jest gives each test file a copy): the workers inherit this run's own path, and
// the test writes a configuration with a temp token directory there.
process.env.SOFTHSM2_CONF ??= join(tmpdir(), `tunnelkey-softhsm-${process.pid}`, 'softhsm2.conf');

/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/contracts', '<rootDir>/libs', '<rootDir>/services', '<rootDir>/e2e', '<rootDir>/examples'],
  testMatch: ['**/*.spec.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { ...swc, sourceMaps: 'inline' }] },
  moduleNameMapper: {
    '^@tunnelkey/contracts$': '<rootDir>/contracts/src/index.ts',
    '^@tunnelkey/(registry|ca|onboarding|ota|revocation|gateway|device-fleet|broker-agent)$':
      '<rootDir>/services/$1/src/index.ts',
    '^@tunnelkey/([a-z-]+)$': '<rootDir>/libs/$1/src/index.ts',
    '^@tunnelkey/(eventstore)/(internal|features)$': '<rootDir>/libs/$1/src/$2.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
    // @fastify/static require()s content-disposition 3, ESM only: Node 20 loads it (require(esm)),
    // Jest's module runtime cannot before Node 24.9. Version 2 (CommonJS, Express's) has the same `create`.
    '^content-disposition$': '<rootDir>/node_modules/content-disposition/dist/index.js',
  },
  globalSetup: '<rootDir>/jest.global-setup.js',
  globalTeardown: '<rootDir>/jest.global-teardown.js',
  testTimeout: 30_000,
  maxWorkers: 2,
};
