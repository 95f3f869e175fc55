import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** URL prefix of the console's assets; the page itself is at `/`. */
export const consoleAssetsPath = '/console';

/**
 * The console's folder: `static/` next to this module when it runs from src (tests, dev), else the
 * package's src/console/static from dist — the build compiles TypeScript only, and the console is
 * plain HTML, CSS and ES modules that need no build.
 */
export function consoleDirectory(): string {
  const candidates = [new URL('./static/', import.meta.url), new URL('../../src/console/static/', import.meta.url)].map(
    (url) => fileURLToPath(url),
  );
  const found = candidates.find((dir) => existsSync(`${dir}index.html`));
  if (!found) throw new Error(`console assets not found in ${candidates.join(' or ')}`);
  return found;
}

/**
 * Files the console takes from npm packages, served from node_modules (no build step, no network):
 * the URL under `/console/vendor/` and the package file it is.
 */
export const vendorFiles: Readonly<Record<string, string>> = {
  'uPlot.esm.js': 'uplot/dist/uPlot.esm.js',
  'uPlot.min.css': 'uplot/dist/uPlot.min.css',
};

const requireFromHere = createRequire(import.meta.url);

// Only our own scripts, styles and API: a string from the API can never run as script. The SSE
// ticket travels in a URL, so no Referer may carry it elsewhere.
const securityHeaders: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  // Revalidated on every load: a new gateway version shows at once, unchanged files answer 304.
  'Cache-Control': 'no-cache',
};

function setSecurityHeaders(reply: FastifyReply): void {
  for (const [name, value] of Object.entries(securityHeaders)) void reply.header(name, value);
}

/**
 * Serves the web console from the gateway: `/` is the single page (hash routes), `/console/*` its
 * modules and styles, `/console/vendor/*` the chart library. Every other path stays with the API's
 * routes. Each file answers conditional GETs (ETag and Last-Modified: 304 when unchanged).
 */
export async function serveConsole(fastify: FastifyInstance, directory = consoleDirectory()): Promise<void> {
  await fastify.register(fastifyStatic, {
    root: directory,
    prefix: `${consoleAssetsPath}/`,
    index: false,
    // Its own `public, max-age=0` would replace the `no-cache` of the security headers.
    cacheControl: false,
    setHeaders: setSecurityHeaders,
  });
  const page = (_request: unknown, reply: FastifyReply) => reply.sendFile('index.html');
  fastify.get('/', page);
  fastify.get('/index.html', page);
  for (const [name, file] of Object.entries(vendorFiles)) {
    const path = requireFromHere.resolve(file);
    fastify.get(`${consoleAssetsPath}/vendor/${name}`, (_request, reply) =>
      reply.sendFile(basename(path), dirname(path)),
    );
  }
}
