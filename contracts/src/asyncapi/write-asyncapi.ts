import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderAsyncApiYaml } from './render.js';

/** Writes contracts/asyncapi.yaml (run from dist: `npm run contracts:asyncapi`). */
const target = fileURLToPath(new URL('../../asyncapi.yaml', import.meta.url));
writeFileSync(target, renderAsyncApiYaml());
process.stdout.write(`wrote ${target}\n`);
