/**
 * What each deployable command reads from its environment, from the services' own configuration
 * schemas: the deployment tests check the manifests and the compose file against it.
 */
import { brokerAgentConfigSchema } from '@tunnelkey/broker-agent';
import { caConfigSchema } from '@tunnelkey/ca';
import { gatewayConfig } from '@tunnelkey/gateway';
import { onboardingConfigSchema } from '@tunnelkey/onboarding';
import { otaConfigSchema } from '@tunnelkey/ota';
import { registryConfig } from '@tunnelkey/registry';
import { revocationConfigSchema } from '@tunnelkey/revocation';

interface Schema {
  settings: Record<string, { env: string; fallback: unknown }>;
  read(env: Record<string, string | undefined>): unknown;
}

export interface DeployedService {
  schema: Schema;
  /** The variable of its HTTP port and that port's fixed default (probes and Services use it). */
  portVariable: string;
  port: number;
}

const service = (schema: Schema, portVariable = 'HTTP_PORT'): DeployedService => {
  const setting = Object.values(schema.settings).find((s) => s.env === portVariable);
  if (!setting || typeof setting.fallback !== 'number') throw new Error(`no ${portVariable} default`);
  return { schema, portVariable, port: setting.fallback };
};

export const deployedServices: Record<string, DeployedService> = {
  registry: service(registryConfig),
  ca: service(caConfigSchema),
  onboarding: service(onboardingConfigSchema),
  revocation: service(revocationConfigSchema),
  ota: service(otaConfigSchema),
  gateway: service(gatewayConfig, 'GATEWAY_PORT'),
  'broker-agent': service(brokerAgentConfigSchema),
};

/** The NATS user a deployed service connects as: its name, `-` written `_` (nats.conf users, NATS_<USER>_PASSWORD). */
export const natsUserOf = (service: string): string => service.replaceAll('-', '_');

/**
 * Read outside the schemas, by every service: startService (HTTP_HOST default, METRICS_TOKEN,
 * TLS_*_FILE, SHUTDOWN_TIMEOUT_MS, JETSTREAM_REPLICAS), the platform-key loader, /health's version; the gateway's port
 * and host fall back on HTTP_PORT / HTTP_HOST.
 */
export const platformVariables = new Set([
  'HTTP_HOST',
  'HTTP_PORT',
  'METRICS_TOKEN',
  'TLS_CERT_FILE',
  'TLS_KEY_FILE',
  'SHUTDOWN_TIMEOUT_MS',
  'JETSTREAM_REPLICAS',
  'PLATFORM_KEY_FILE',
  'PLATFORM_KEY',
  'PLATFORM_KEY_ID',
  'TUNNELKEY_VERSION',
]);

/** The variables `service` reads: its schema's and the platform's. */
export function readsVariable(service: DeployedService, variable: string): boolean {
  return platformVariables.has(variable) || Object.values(service.schema.settings).some((s) => s.env === variable);
}

/** The NATS users deploy/nats/nats.conf defines, and the password variables it reads. */
export function natsUsersOf(conf: string): { users: string[]; passwordVariables: string[] } {
  const active = conf
    .split('\n')
    .filter((line) => !line.trim().startsWith('#'))
    .join('\n');
  return {
    users: [...active.matchAll(/^\s*user:\s*([a-z_-]+)\s*$/gm)].map((m) => m[1]!),
    passwordVariables: [...active.matchAll(/password:\s*\$([A-Z_]+)/g)].map((m) => m[1]!),
  };
}

/** Services deployed with a NATS user nats.conf does not define yet (none since OTA's user landed; the k8s test keeps it honest). */
export const natsUsersStillMissing: string[] = [];
