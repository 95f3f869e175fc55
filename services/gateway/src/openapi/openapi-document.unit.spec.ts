/* eslint-disable @typescript-eslint/no-explicit-any -- walking an arbitrary JSON document; the assertions check the shapes */
import { commandDefinitions } from '@tunnelkey/contracts';
import { commandRoutes, pathParameters, unservedCommands } from '../commands/command-routes.js';
import { queryRoutes } from '../queries/query-routes.js';
import { buildOpenApiDocument, requestBodySchema } from './openapi-document.js';

type Json = Record<string, any>;
const document = buildOpenApiDocument() as Json;
const methods = ['get', 'post', 'put', 'delete', 'patch'];
const operations = Object.entries(document.paths as Json).flatMap(([path, item]) =>
  Object.entries(item as Json)
    .filter(([m]) => methods.includes(m))
    .map(([method, op]) => ({ path, method, op: op as Json })),
);

/** Every node that sits in a schema position must be a JSON Schema (an object or a boolean). */
function checkSchema(schema: unknown, where: string, problems: string[]): void {
  if (typeof schema === 'boolean') return;
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema))
    return void problems.push(`${where}: not a schema`);
  const s = schema as Json;
  if (s.$ref !== undefined && !(typeof s.$ref === 'string' && resolves(s.$ref)))
    problems.push(`${where}: unresolved $ref ${s.$ref}`);
  if (
    s.type !== undefined &&
    ![s.type]
      .flat()
      .every((t: unknown) =>
        ['object', 'array', 'string', 'number', 'integer', 'boolean', 'null'].includes(t as string),
      )
  )
    problems.push(`${where}: bad type`);
  if (
    s.required !== undefined &&
    !(Array.isArray(s.required) && s.required.every((k: unknown) => typeof k === 'string'))
  )
    problems.push(`${where}: bad required`);
  if (Array.isArray(s.required) && s.properties)
    for (const key of s.required)
      if (!(key in s.properties) && s.additionalProperties === false)
        problems.push(`${where}: required ${key} is not a property`);
  for (const key of ['properties', 'patternProperties'])
    for (const [name, sub] of Object.entries((s[key] as Json) ?? {}))
      checkSchema(sub, `${where}.${key}.${name}`, problems);
  for (const key of ['items', 'additionalProperties', 'not'])
    if (s[key] !== undefined && typeof s[key] === 'object') checkSchema(s[key], `${where}.${key}`, problems);
  for (const key of ['anyOf', 'oneOf', 'allOf']) {
    if (s[key] === undefined) continue;
    if (Array.isArray(s[key]))
      (s[key] as unknown[]).forEach((sub, i) => checkSchema(sub, `${where}.${key}[${i}]`, problems));
    else problems.push(`${where}: ${key} not an array`);
  }
  if (s.pattern !== undefined) {
    try {
      new RegExp(s.pattern as string, 'u');
    } catch {
      problems.push(`${where}: pattern does not compile`);
    }
  }
}

function resolves(ref: string): boolean {
  if (!ref.startsWith('#/')) return false;
  return (
    ref
      .slice(2)
      .split('/')
      .reduce<unknown>((node, key) => (node as Json | undefined)?.[key], document) !== undefined
  );
}

describe('the OpenAPI 3.1 document', () => {
  it('is OpenAPI 3.1 with info, paths and the security schemes', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(document.info.title).toBeTruthy();
    expect(Object.keys(document.components.securitySchemes)).toEqual(['bearer', 'sseTicket']);
    expect(JSON.parse(JSON.stringify(document))).toEqual(document);
  });

  it('has a route for every operator command a service handles', () => {
    const exposed = new Set(operations.map(({ op }) => op['x-tunnelkey-command']).filter(Boolean));
    const served = commandDefinitions.filter((d) => !unservedCommands.includes(d.name));
    const expected = served.map((d) => d.subject());
    expect([...exposed].sort()).toEqual(expected.sort());
    for (const route of Object.values(commandRoutes))
      expect(document.paths[route.path].post['x-tunnelkey-command']).toBe(route.command.subject());
  });

  it('has every query and platform route', () => {
    for (const route of Object.values(queryRoutes)) expect(document.paths[route.path].get).toBeDefined();
    for (const path of ['/events', '/health', '/ready', '/metrics', '/openapi.json', '/api/tokens', '/api/sse-tickets'])
      expect(document.paths[path]).toBeDefined();
  });

  it('is structurally valid: unique operation ids, declared path parameters, responses, valid schemas and resolvable $refs', () => {
    const ids = operations.map(({ op }) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    const problems: string[] = [];
    for (const { path, method, op } of operations) {
      const where = `${method.toUpperCase()} ${path}`;
      const declared = ((op.parameters as Json[] | undefined) ?? []).filter((p) => p.in === 'path').map((p) => p.name);
      expect([where, declared.sort()]).toEqual([where, pathParameters(path).sort()]);
      expect(Object.keys(op.responses).length).toBeGreaterThan(0);
      for (const p of (op.parameters as Json[] | undefined) ?? []) {
        expect(['path', 'query', 'header', 'cookie']).toContain(p.in);
        checkSchema(p.schema, `${where} parameter ${p.name}`, problems);
      }
      for (const [type, media] of Object.entries((op.requestBody?.content as Json) ?? {}))
        checkSchema((media as Json).schema, `${where} body ${type}`, problems);
      for (const [status, response] of Object.entries(op.responses as Json)) {
        expect(status).toMatch(/^[1-5]\d\d$/);
        for (const [type, media] of Object.entries(((response as Json).content as Json) ?? {}))
          checkSchema((media as Json).schema, `${where} ${status} ${type}`, problems);
      }
    }
    for (const [name, schema] of Object.entries(document.components.schemas as Json))
      checkSchema(schema, `components.${name}`, problems);
    expect(problems).toEqual([]);
  });

  it("leaves the gateway's own fields and path parameters out of request bodies", () => {
    const body = requestBodySchema(commandRoutes.RevokeDevice);
    expect(Object.keys(body.properties as Json)).toEqual(['reason']);
    expect(body.required).toEqual(['reason']);
    const policy = requestBodySchema(commandRoutes.DefineServerPolicy);
    expect(policy.properties).not.toHaveProperty('commandId');
    expect(policy.properties).not.toHaveProperty('actor');
    expect(policy.required).toContain('policyId');
  });

  // Issue 14: the CA creates no issuing CA (the root stays offline); the route returns the one the
  // ceremony signed or refuses, and its documentation must not promise a CA it will not create.
  it('documents POST /api/authorities as returning the ceremony-signed CA or refusing no-issuing-authority', () => {
    const op = document.paths['/api/authorities'].post as Json;
    expect(op.summary).not.toMatch(/\bcreate\b/i);
    expect(`${op.summary} ${op.description}`).toContain('no-issuing-authority');
    expect(op.description).toContain('ca:ceremony -- sign-issuing-ca');
    expect(op.responses).toHaveProperty('422');
  });

  it('marks the target admin password write-only', () => {
    expect(JSON.stringify(document.paths['/api/targets'].post.requestBody)).toContain('"writeOnly":true');
  });
});
