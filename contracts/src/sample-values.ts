import { Kind, type TSchema } from '@sinclair/typebox';

/**
 * Builds a valid value for any contract schema, with every optional property present: the
 * examples of the AsyncAPI document, and the full payloads tests start from to break one thing at
 * a time. Patterned strings come from a table of known-good examples; an unknown pattern fails
 * loudly instead of guessing.
 */

const pem = (label: string) =>
  `-----BEGIN ${label}-----\nMIIBszCCAVmgAwIBAgIUQ0FQVUZ0dW5uZWxrZXk=\n-----END ${label}-----\n`;

export const examplePem = pem('CERTIFICATE');

function exampleFor(schema: Record<string, unknown>): string | undefined {
  const pattern = schema['pattern'] as string | undefined;
  const format = schema['format'] as string | undefined;
  if (format === 'uuid') return '123e4567-e89b-12d3-a456-426614174000';
  if (format === 'date-time') return '2025-01-02T03:04:05.000Z';
  if (pattern === undefined) return 'x'.repeat(Math.max(1, (schema['minLength'] as number | undefined) ?? 1));
  if (pattern.includes('BEGIN CERTIFICATE')) return examplePem;
  if (pattern.includes('BEGIN PUBLIC KEY')) return pem('PUBLIC KEY');
  if (pattern.startsWith('^(?:[A-Za-z0-9+/]{4})*'))
    return 'AAAA'.repeat(Math.ceil(((schema['minLength'] as number | undefined) ?? 4) / 4));
  const table: Record<string, string> = {
    '^[A-Za-z0-9_-]{1,128}$': 'd-7f3a',
    '^[0-9a-f]{64}$': 'ab'.repeat(32),
    '^[0-9a-f]{2,40}$': '0a1b2c',
    '^[A-Za-z0-9+/]{85}[AQgw]==$': `${'A'.repeat(86)}==`,
    '^[^\\u0000-\\u001f\\u007f]+$': 'text',
    '^https?://[^\\s]{1,2000}$': 'http://ca.example/crl/issuing-1.crl',
    '^[A-Za-z0-9_.-]{1,64}$': 'site',
    '^[a-z][a-z0-9-]{0,63}$': 'some-reason',
    '^(?:enrolment|tls-(?:0|[1-9][0-9]{0,5})(?:-(?:0|[1-9][0-9]{0,5}))?)$': 'enrolment',
    '^tls-(?:0|[1-9][0-9]{0,5})(?:-(?:0|[1-9][0-9]{0,5}))?$': 'tls-1',
    '^[0-9A-Za-z][0-9A-Za-z.+-]{0,63}$': '1.2.3',
    '^[A-Za-z0-9_-][A-Za-z0-9_./-]{0,199}$': 'devices/d-7f3a',
    '^[A-Za-z0-9_.:-]{1,128}$': 'd-7f3a',
    '^[^\\u0000#+]+$': 'devices/d-7f3a/telemetry',
    '^platform-[a-z0-9-]{1,32}$': 'platform-1',
    '^[a-z][a-z0-9-]{0,31}$': 'csr',
    '^[A-Za-z][A-Za-z0-9_-]{0,63}$': 'NOT_FOUND',
    '^[0-9a-fA-F-]{36}$': '123e4567-e89b-12d3-a456-426614174000',
  };
  if (pattern in table) return table[pattern];
  if (pattern.startsWith('^(?:[A-Za-z0-9](?:')) return 'broker.example';
  return undefined;
}

export function sampleValue(schema: TSchema): unknown {
  const s = schema as unknown as Record<string | symbol, unknown>;
  if ('const' in s) return s['const'];
  switch (s[Kind]) {
    case 'Object': {
      const properties = s['properties'] as Record<string, TSchema>;
      return Object.fromEntries(Object.entries(properties).map(([key, value]) => [key, sampleValue(value)]));
    }
    case 'Union':
      return sampleValue((s['anyOf'] as TSchema[])[0]!);
    case 'Array': {
      const count = Math.max(1, (s['minItems'] as number | undefined) ?? 1);
      return Array.from({ length: count }, () => sampleValue(s['items'] as TSchema));
    }
    case 'Record':
      return { site: 'berlin' };
    case 'Integer':
    case 'Number':
      // Within the bounds: a share (at most 0.95, say) gets its maximum.
      return Math.min(
        (s['maximum'] as number | undefined) ?? Infinity,
        Math.max(1, (s['minimum'] as number | undefined) ?? 1),
      );
    case 'Boolean':
      return true;
    case 'Unknown':
      return null;
    case 'String': {
      const example = exampleFor(s as Record<string, unknown>);
      if (example === undefined) throw new Error(`no example for string pattern ${String(s['pattern'])}`);
      return example;
    }
    default:
      throw new Error(`no sample for schema kind ${String(s[Kind])}`);
  }
}

/** Every string-schema location in a schema, as JSON pointer paths into a sample value. */
export function stringPaths(schema: TSchema, path = ''): { path: string; schema: Record<string, unknown> }[] {
  const s = schema as unknown as Record<string | symbol, unknown>;
  switch (s[Kind]) {
    case 'Object':
      return Object.entries(s['properties'] as Record<string, TSchema>).flatMap(([key, value]) =>
        stringPaths(value, `${path}/${key}`),
      );
    case 'Union':
      return stringPaths((s['anyOf'] as TSchema[])[0]!, path);
    case 'Array':
      return stringPaths(s['items'] as TSchema, `${path}/0`);
    case 'String':
      return 'const' in s ? [] : [{ path, schema: s as Record<string, unknown> }];
    default:
      return [];
  }
}

/** Returns a deep copy of `value` with the value at `path` replaced. */
export function withValueAt(value: unknown, path: string, replacement: unknown): unknown {
  const copy = structuredClone(value) as Record<string, unknown>;
  const keys = path.split('/').slice(1);
  let cursor: Record<string, unknown> = copy;
  for (const key of keys.slice(0, -1)) cursor = cursor[key] as Record<string, unknown>;
  cursor[keys[keys.length - 1]!] = replacement;
  return copy;
}
