// Public entry of the gateway service: the starter (tests, demo, e2e), the route tables, OpenAPI and the read models.
export { startGateway, type StartGatewayOptions, type RunningGateway } from './start-gateway.js';
export { gatewayConfigFromEnv, type GatewayConfig } from './config.js';
export { GatewayModule } from './gateway.module.js';
export type { GatewayRuntime } from './gateway-runtime.js';
export { commandRoutes, type CommandRoute } from './commands/command-routes.js';
export { queryRoutes } from './queries/query-routes.js';
export { buildOpenApiDocument } from './openapi/openapi-document.js';
export { fleetProjection } from './projections/fleet.projection.js';
export { catalogProjection } from './projections/catalog.projection.js';
export type * from './projections/fleet.views.js';
export { ReadModels } from './read-model/read-models.js';
export { TokenService } from './auth/token-service.js';
export { InMemoryTokenStore, KvTokenStore, type TokenStore } from './auth/token-store.js';
export { roles, type Role, type Principal } from './auth/roles.js';
export * from './errors.js';
export { runCli, type CliIo } from './cli/run-cli.js';
