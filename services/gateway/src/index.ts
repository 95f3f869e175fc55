// Public entry of the gateway service: the starter (tests, demo, e2e), the route tables, OpenAPI and the read models.
export { startGateway, type StartGatewayOptions, type RunningGateway } from './start-gateway.js';
export { gatewayConfig, gatewayConfigFromEnv, type GatewayConfig } from './config.js';
export { GatewayModule, type GatewayModuleOptions } from './gateway.module.js';
export { commandRoutes, unservedCommands, type CommandRoute } from './commands/command-routes.js';
export { queryRoutes } from './queries/query-routes.js';
export { buildOpenApiDocument } from './openapi/openapi-document.js';
export { fleetProjection } from './views/fleet.view.js';
export { catalogProjection } from './views/catalog.view.js';
export type * from './views/fleet-documents.js';
export { ReadModels, gatewayViews } from './views/read-models.js';
export { TokenService } from './auth/token-service.js';
export { InMemoryTokenStore, KvTokenStore, type TokenStore } from './auth/token-store.js';
export { roles, type Role, type Principal } from './auth/roles.js';
export * from './errors.js';
export { runCli, type CliIo } from './cli/run-cli.js';
export { serverSentEvents, type ServerSentEvent } from './cli/gateway-client.js';
