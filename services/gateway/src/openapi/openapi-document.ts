import { Type, type TSchema } from '@sinclair/typebox';
import { IdentityRow, ImportRowReport, toJsonSchema } from '@tunnelkey/contracts';
import { roles } from '../auth/roles.js';
import { commandRoutes, gatewayFields, pathParameters, type CommandRoute } from '../commands/command-routes.js';
import { queryRoutes, type QueryRoute } from '../queries/query-routes.js';

type Json = Record<string, unknown>;

const errorResponses = {
  '400': {
    description: 'Malformed body, query or header; `details` names the failing paths or rows',
    content: json({ $ref: '#/components/schemas/Error' }),
  },
  '401': { description: 'No token, or an invalid/revoked one', content: json({ $ref: '#/components/schemas/Error' }) },
  '403': { description: "The token's role does not allow this", content: json({ $ref: '#/components/schemas/Error' }) },
};
const commandErrors = {
  ...errorResponses,
  '404': { description: 'Unknown id', content: json({ $ref: '#/components/schemas/Error' }) },
  '409': { description: 'Conflict with the current state', content: json({ $ref: '#/components/schemas/Error' }) },
  '413': { description: 'Too large', content: json({ $ref: '#/components/schemas/Error' }) },
  '422': {
    description: 'Refused by the owning service (the code is its reason, e.g. `device-revoked`)',
    content: json({ $ref: '#/components/schemas/Error' }),
  },
  '503': { description: 'The owning service did not answer', content: json({ $ref: '#/components/schemas/Error' }) },
};

function json(schema: unknown): Json {
  return { 'application/json': { schema } };
}

function schemaOf(schema: TSchema): Json {
  return toJsonSchema(schema);
}

/** The command's payload as the HTTP body: without the fields the gateway sets and the path parameters. */
export function requestBodySchema(route: CommandRoute): Json {
  const schema = schemaOf(route.command.payloadSchema);
  const omitted = new Set<string>([...gatewayFields, ...pathParameters(route.path)]);
  const properties = Object.fromEntries(Object.entries(schema.properties as Json).filter(([key]) => !omitted.has(key)));
  const required = ((schema.required as string[] | undefined) ?? []).filter((key) => !omitted.has(key));
  return { ...schema, properties, ...(required.length ? { required } : { required: undefined }) };
}

function pathParams(path: string): Json[] {
  return pathParameters(path).map((name) => ({
    name,
    in: 'path',
    required: true,
    schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,128}$' },
  }));
}

const commandHeaders = [
  {
    name: 'Idempotency-Key',
    in: 'header',
    required: false,
    description: 'Becomes the commandId: a retried request changes nothing twice',
    schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,128}$' },
  },
  {
    name: 'X-Correlation-Id',
    in: 'header',
    required: false,
    description: 'Echoed back and recorded as the correlationId of the events',
    schema: { type: 'string', maxLength: 128 },
  },
];

function commandOperation(name: string, route: CommandRoute): Json {
  const isImport = route.command.name === 'ImportIdentities';
  const result = isImport
    ? Type.Object({
        batchId: Type.String(),
        importId: Type.String(),
        accepted: Type.Integer(),
        rejected: Type.Integer(),
        calls: Type.Integer(),
        rows: Type.Array(ImportRowReport),
      })
    : route.command.resultSchema;
  const requestBody = isImport
    ? {
        required: true,
        description:
          "An identity file of any size: split into ImportIdentities calls of at most 2,500 rows; row numbers in the report are the file's.",
        content: {
          'application/json': {
            schema: {
              oneOf: [
                { type: 'array', items: schemaOf(IdentityRow), minItems: 1 },
                {
                  type: 'object',
                  properties: {
                    importId: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,128}$' },
                    rows: { type: 'array', items: schemaOf(IdentityRow), minItems: 1 },
                  },
                  required: ['rows'],
                },
                {
                  type: 'object',
                  properties: {
                    importId: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,128}$' },
                    csv: { type: 'string' },
                  },
                  required: ['csv'],
                },
              ],
            },
          },
          'text/csv': {
            schema: {
              type: 'string',
              description: 'Header line, then deviceId, enrolmentPublicKey and metadata columns',
            },
          },
        },
      }
    : { required: true, content: json(requestBodySchema(route)) };
  return {
    operationId: name.charAt(0).toLowerCase() + name.slice(1),
    summary: route.command.summary,
    ...('description' in route ? { description: route.description } : {}),
    tags: ['commands'],
    'x-tunnelkey-command': route.command.subject(),
    'x-required-role': route.role,
    security: [{ bearer: [] }],
    parameters: [
      ...pathParams(route.path),
      ...commandHeaders,
      ...(isImport
        ? [
            {
              name: 'importId',
              in: 'query',
              required: false,
              schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,128}$' },
            },
          ]
        : []),
    ],
    requestBody,
    responses: {
      [String(route.status)]: {
        description:
          route.status === 202 ? 'Accepted: outcomes follow as events (watch /events or the queries)' : 'Done',
        content: json({
          type: 'object',
          properties: { commandId: { type: 'string' }, correlationId: { type: 'string' }, result: schemaOf(result) },
          required: ['commandId', 'correlationId', 'result'],
        }),
      },
      ...commandErrors,
    },
  };
}

function queryOperation(name: string, route: QueryRoute): Json {
  return {
    operationId: name,
    summary: route.summary,
    tags: ['queries'],
    'x-required-role': 'viewer',
    security: [{ bearer: [] }],
    parameters: [
      ...pathParams(route.path),
      ...Object.entries(route.query ?? {}).map(([key, schema]) => ({
        name: key,
        in: 'query',
        required: false,
        schema: schemaOf(schema),
      })),
    ],
    responses: {
      '200': { description: 'OK', content: json(schemaOf(route.response)) },
      ...errorResponses,
      '404': { description: 'Unknown id', content: json({ $ref: '#/components/schemas/Error' }) },
    },
  };
}

const tokenRecord = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    role: { enum: [...roles] },
    createdAt: { type: 'string', format: 'date-time' },
    createdBy: { type: 'string' },
    revokedAt: { type: 'string', format: 'date-time' },
  },
  required: ['id', 'name', 'role', 'createdAt'],
};

function platformPaths(): Json {
  const admin = { 'x-required-role': 'admin', security: [{ bearer: [] }], tags: ['tokens'] };
  return {
    '/api/tokens': {
      get: {
        ...admin,
        operationId: 'listTokens',
        summary: 'API tokens (their digests are never shown).',
        responses: {
          '200': {
            description: 'OK',
            content: json({ type: 'object', properties: { items: { type: 'array', items: tokenRecord } } }),
          },
          ...errorResponses,
        },
      },
      post: {
        ...admin,
        operationId: 'issueToken',
        summary: 'Issue an API token; it is in this answer only.',
        requestBody: {
          required: true,
          content: json({
            type: 'object',
            properties: { name: { type: 'string', pattern: '^[A-Za-z0-9_.@-]{1,64}$' }, role: { enum: [...roles] } },
            required: ['name', 'role'],
            additionalProperties: false,
          }),
        },
        responses: {
          '201': {
            description: 'Issued',
            content: json({
              type: 'object',
              properties: { token: { type: 'string' }, record: tokenRecord },
              required: ['token', 'record'],
            }),
          },
          ...errorResponses,
        },
      },
    },
    '/api/tokens/{tokenId}': {
      delete: {
        ...admin,
        operationId: 'revokeToken',
        summary: 'Revoke an API token at once.',
        parameters: [{ name: 'tokenId', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'Revoked', content: json(tokenRecord) }, ...errorResponses },
      },
    },
    '/api/whoami': {
      get: {
        operationId: 'whoami',
        tags: ['tokens'],
        summary: 'The caller: token name and role.',
        security: [{ bearer: [] }],
        'x-required-role': 'viewer',
        responses: {
          '200': {
            description: 'OK',
            content: json({
              type: 'object',
              properties: { name: { type: 'string' }, role: { enum: [...roles] }, tokenId: { type: 'string' } },
            }),
          },
          ...errorResponses,
        },
      },
    },
    '/api/sse-tickets': {
      post: {
        operationId: 'issueSseTicket',
        tags: ['live'],
        summary: 'A one-minute ticket for /events?ticket=... (EventSource cannot send headers).',
        security: [{ bearer: [] }],
        'x-required-role': 'viewer',
        responses: {
          '201': {
            description: 'Issued',
            content: json({
              type: 'object',
              properties: { ticket: { type: 'string' }, expiresAt: { type: 'string', format: 'date-time' } },
              required: ['ticket', 'expiresAt'],
            }),
          },
          ...errorResponses,
        },
      },
    },
    '/events': {
      get: {
        operationId: 'liveEvents',
        tags: ['live'],
        summary: 'Server-sent events: hello, device, batch, devices-changed, catalog, fleet (without batchId), ping.',
        security: [{ bearer: [] }, { sseTicket: [] }],
        'x-required-role': 'viewer',
        parameters: [
          {
            name: 'batchId',
            in: 'query',
            required: false,
            schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,128}$' },
          },
        ],
        responses: {
          '200': { description: 'An event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } },
          ...errorResponses,
        },
      },
    },
    '/events/rollouts/{rolloutId}': {
      get: {
        operationId: 'rolloutEvents',
        tags: ['live'],
        summary:
          "Server-sent events of one rollout: `rollout` (DescribeRollout's answer) whenever it changed, " +
          '`rollout-error` when it cannot be read; ends once the rollout completed or was aborted.',
        security: [{ bearer: [] }, { sseTicket: [] }],
        'x-required-role': 'viewer',
        parameters: [
          {
            name: 'rolloutId',
            in: 'path',
            required: true,
            schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,128}$' },
          },
        ],
        responses: {
          '200': { description: 'An event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } },
          ...errorResponses,
        },
      },
    },
    '/health': {
      get: {
        operationId: 'health',
        tags: ['platform'],
        summary: 'Liveness.',
        security: [],
        responses: { '200': { description: 'Alive' } },
      },
    },
    '/ready': {
      get: {
        operationId: 'ready',
        tags: ['platform'],
        summary: 'Readiness: NATS connected and the read models caught up with the log.',
        security: [],
        responses: { '200': { description: 'Ready' }, '503': { description: 'Not ready; `failing` names the checks' } },
      },
    },
    '/metrics': {
      get: {
        operationId: 'metrics',
        tags: ['platform'],
        summary: 'Prometheus metrics.',
        security: [],
        responses: {
          '200': { description: 'Text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } },
        },
      },
    },
    '/openapi.json': {
      get: {
        operationId: 'openapi',
        tags: ['platform'],
        summary: 'This document.',
        security: [],
        responses: { '200': { description: 'OpenAPI 3.1', content: json({ type: 'object' }) } },
      },
    },
  };
}

/** OpenAPI 3.1, generated from the contracts' JSON Schemas and the route tables: one source of truth. */
export function buildOpenApiDocument(options: { version?: string; serverUrl?: string } = {}): Json {
  const paths: Record<string, Json> = {};
  const add = (path: string, method: string, operation: Json) => {
    paths[path] = { ...(paths[path] ?? {}), [method]: operation };
  };
  for (const [name, route] of Object.entries(commandRoutes)) add(route.path, 'post', commandOperation(name, route));
  for (const [name, route] of Object.entries(queryRoutes)) add(route.path, 'get', queryOperation(name, route));
  for (const [path, operations] of Object.entries(platformPaths()))
    for (const [method, operation] of Object.entries(operations as Json)) add(path, method, operation as Json);
  return {
    openapi: '3.1.0',
    info: {
      title: 'tunnelkey gateway',
      version: options.version ?? '0.1.0',
      description:
        "Operator commands (sent to the owning service over NATS) and the console's read models. Roles: viewer (read), operator (provision, onboard), admin (revoke, targets, policies, tokens).",
    },
    ...(options.serverUrl ? { servers: [{ url: options.serverUrl }] } : {}),
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    security: [{ bearer: [] }],
    tags: [{ name: 'commands' }, { name: 'queries' }, { name: 'tokens' }, { name: 'live' }, { name: 'platform' }],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An API token: `Authorization: Bearer tk_...`' },
        sseTicket: {
          type: 'apiKey',
          in: 'query',
          name: 'ticket',
          description: 'From POST /api/sse-tickets; /events only; valid one minute',
        },
      },
      schemas: {
        Error: {
          type: 'object',
          properties: {
            error: {
              type: 'object',
              properties: {
                code: { type: 'string' },
                message: { type: 'string' },
                details: { type: 'array', items: { type: 'object' } },
              },
              required: ['code', 'message'],
            },
            correlationId: { type: 'string' },
          },
          required: ['error'],
        },
      },
    },
  };
}
