import { FastifyAdapter } from '@nestjs/platform-fastify';

/**
 * Every service's HTTP framework: Fastify (Nest's adapter), given the HTTPS options or none. Under
 * load it costs a fraction of Express's CPU per request and little garbage (`npm run bench:api`).
 * Handlers stay framework-neutral: headers go through Nest's `HttpAdapterHost` (`setHeader`).
 */
export function serviceHttpAdapter(https?: { cert: Buffer; key: Buffer }): FastifyAdapter {
  const routerOptions = {
    // A route parameter is an id of up to 128 characters, checked by its route (400 past it);
    // Fastify's own limit (100) would answer 414 for a valid one.
    maxParamLength: 1024,
    // `/api/devices/` is `/api/devices`.
    ignoreTrailingSlash: true,
  };
  return https ? new FastifyAdapter({ https, routerOptions }) : new FastifyAdapter({ routerOptions });
}
