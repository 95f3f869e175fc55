import { namespacePattern } from '@tunnelkey/contracts';
import { GatewayConfigError } from './errors.js';

/** The gateway's settings from the environment; every default works on loopback. */
export interface GatewayConfig {
  /** NATS_URL, default nats://127.0.0.1:4222. */
  natsUrl: string;
  /** TUNNELKEY_NAMESPACE, default '' (production). */
  namespace: string;
  /** GATEWAY_PORT (or HTTP_PORT), default 8080; 0 picks a free port. */
  httpPort: number;
  /** GATEWAY_HOST, default 127.0.0.1. */
  httpHost: string;
  /** GATEWAY_ADMIN_TOKEN: a bootstrap admin token; without it one is generated at first start and shown once. */
  adminToken?: string;
  /** GATEWAY_TICKET_KEY (hex, >= 32 bytes): shared by gateway instances so SSE tickets work on any of them. */
  ticketKey?: Uint8Array;
  /** GATEWAY_BODY_LIMIT, default 32mb: the largest identity file accepted in one request. */
  bodyLimit: string;
  /** LOG_LEVEL, default info. */
  logLevel: string;
}

export function gatewayConfigFromEnv(env: Record<string, string | undefined> = process.env): GatewayConfig {
  const namespace = env.TUNNELKEY_NAMESPACE ?? '';
  if (namespace !== '' && !new RegExp(namespacePattern).test(namespace)) throw new GatewayConfigError(`TUNNELKEY_NAMESPACE must match ${namespacePattern}`, 'TUNNELKEY_NAMESPACE');
  const portText = env.GATEWAY_PORT ?? env.HTTP_PORT ?? '8080';
  const httpPort = Number(portText);
  if (!Number.isInteger(httpPort) || httpPort < 0 || httpPort > 65_535) throw new GatewayConfigError('GATEWAY_PORT must be an integer from 0 to 65535', 'GATEWAY_PORT');
  const adminToken = env.GATEWAY_ADMIN_TOKEN;
  // The bootstrap token is as strong as its entropy: refuse a short one rather than guessable admin access.
  if (adminToken !== undefined && adminToken.length < 24) throw new GatewayConfigError('GATEWAY_ADMIN_TOKEN must be at least 24 characters of random text', 'GATEWAY_ADMIN_TOKEN');
  const ticketHex = env.GATEWAY_TICKET_KEY;
  if (ticketHex !== undefined && !/^(?:[0-9a-fA-F]{2}){32,}$/.test(ticketHex)) throw new GatewayConfigError('GATEWAY_TICKET_KEY must be at least 32 bytes in hex', 'GATEWAY_TICKET_KEY');
  return {
    natsUrl: env.NATS_URL ?? 'nats://127.0.0.1:4222',
    namespace,
    httpPort,
    httpHost: env.GATEWAY_HOST ?? '127.0.0.1',
    ...(adminToken ? { adminToken } : {}),
    ...(ticketHex ? { ticketKey: Buffer.from(ticketHex, 'hex') } : {}),
    bodyLimit: env.GATEWAY_BODY_LIMIT ?? '32mb',
    logLevel: env.LOG_LEVEL ?? 'info',
  };
}
