/**
 * The image cannot be built here (no Docker engine), so what can be checked offline is checked:
 * every COPY source exists and is not hidden by .dockerignore, every workspace's manifest reaches
 * `npm ci`, the runtime stage is node:20 slim, non-root, production dependencies only, the version
 * is the repository's, and `tunnelkey <command>` dispatches to an entry the build produces.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, dockerfileStages, dispatchEntries } from './deployment-files.js';

const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
const stages = dockerfileStages(dockerfile);
const ignored = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line && !line.startsWith('#'));

/** A .dockerignore pattern as a regular expression (`**`, `*` and literal paths, as ours are written). */
const patternOf = (glob: string) =>
  new RegExp(
    `^${glob
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*\*\//g, '(?:.*/)?')
      .replace(/\*/g, '[^/]*')}(?:/.*)?$`,
  );

describe('the image (Dockerfile, .dockerignore, deploy/image/tunnelkey.mjs)', () => {
  const copies = stages.flatMap((stage) =>
    stage.copies.filter((c) => !c.from).map((c) => ({ stage: stage.name, sources: c.sources })),
  );

  it('copies only what exists in the repository and what .dockerignore lets through', () => {
    expect(copies.length).toBeGreaterThan(0);
    for (const { sources } of copies) {
      for (const source of sources) {
        expect({ source, exists: existsSync(join(repoRoot, source)) }).toEqual({ source, exists: true });
        const hiddenBy = ignored.filter((glob) => patternOf(glob).test(source));
        expect({ source, hiddenBy }).toEqual({ source, hiddenBy: [] });
      }
    }
  });

  it("gives npm ci every workspace's package.json and the lock file (none hidden by .dockerignore)", () => {
    const root = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { workspaces: string[] };
    const workspaces = root.workspaces.flatMap((pattern) =>
      pattern.endsWith('/*')
        ? readdirSync(join(repoRoot, pattern.slice(0, -2)))
            .map((name) => `${pattern.slice(0, -2)}/${name}`)
            .filter((dir) => existsSync(join(repoRoot, dir, 'package.json')))
        : [pattern],
    );
    expect(workspaces.length).toBeGreaterThan(10);
    const manifests = stages.find((s) => s.name === 'manifests')!;
    expect(manifests.body).toContain("find . -name package.json -not -path '*/node_modules/*'");
    expect(manifests.body).toContain('cp package-lock.json /manifests/');
    for (const file of ['package.json', 'package-lock.json', ...workspaces.map((w) => `${w}/package.json`)]) {
      expect({ file, hiddenBy: ignored.filter((glob) => patternOf(glob).test(file)) }).toEqual({ file, hiddenBy: [] });
    }
    expect(stages.find((s) => s.name === 'base')!.copies).toContainEqual({
      from: 'manifests',
      sources: ['/manifests'],
      target: './',
    });
  });

  it('runs on node:20 slim as a non-root user with production dependencies, the version of package.json', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:20-[a-z]+-slim$/m);
    const runtime = stages.at(-1)!;
    expect(runtime.from).toBe('${NODE_IMAGE}');
    expect(runtime.body).toMatch(/^USER 1000:1000$/m);
    expect(stages.find((s) => s.name === 'deps')!.body).toContain('npm ci --omit=dev');
    // The runtime takes node_modules from the production install only.
    expect(runtime.copies.filter((c) => c.sources.includes('/app/node_modules')).map((c) => c.from)).toEqual(['deps']);
    const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
    expect(runtime.body).toContain(`ARG VERSION=${version}`);
    expect(runtime.body).toMatch(/TUNNELKEY_VERSION=\$\{VERSION\}/); // what /health reports
    expect(readFileSync(join(repoRoot, 'CHANGELOG.md'), 'utf8')).toContain(`\n## ${version} `);
    expect(runtime.body).toMatch(/ENTRYPOINT \["tunnelkey"\]/);
  });

  it('states one licence everywhere: LICENSE, package.json and the image label say Apache-2.0', () => {
    const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { license: string };
    expect(manifest.license).toBe('Apache-2.0');
    expect(readFileSync(join(repoRoot, 'LICENSE'), 'utf8')).toMatch(/Apache License\s+Version 2\.0/);
    expect(stages.at(-1)!.body).toMatch(/org\.opencontainers\.image\.licenses="Apache-2\.0"/);
  });

  it('dispatches every command to a main the build produces (a TypeScript source next to it)', () => {
    const entries = dispatchEntries();
    for (const service of ['registry', 'ca', 'onboarding', 'revocation', 'ota', 'gateway', 'fleet', 'cli']) {
      expect(Object.keys(entries)).toContain(service);
    }
    for (const [command, entry] of Object.entries(entries)) {
      const source = entry.replace('/dist/', '/src/').replace(/\.js$/, '.ts');
      expect({ command, source, exists: existsSync(join(repoRoot, source)) }).toEqual({
        command,
        source,
        exists: true,
      });
    }
  });
});
