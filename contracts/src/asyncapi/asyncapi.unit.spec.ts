import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Parser } from '@asyncapi/parser';
import { findEventDefinition, publicEventDefinitions } from '../catalog.js';
import { eventHeaderNames } from '../envelope.js';
import { asyncApiMessageId, buildAsyncApiDocument } from './build-asyncapi.js';
import { renderAsyncApiYaml } from './render.js';

const committedPath = fileURLToPath(new URL('../../asyncapi.yaml', import.meta.url));
const committed = readFileSync(committedPath, 'utf8');
const fix = 'Regenerate it with `npm run contracts:asyncapi` and commit the result.';

describe('contracts/asyncapi.yaml', () => {
  let parsed: Awaited<ReturnType<Parser['parse']>>;

  // Spectral's ruleset loads slowly on a cold cache.
  beforeAll(async () => {
    parsed = await new Parser().parse(committed);
  }, 60_000);

  test('parses as AsyncAPI 3.0 with no error (or warning) diagnostics', () => {
    // Severity 0 = error, 1 = warning (Spectral). Info-level hints (e.g. "3.1 exists") are fine.
    const problems = parsed.diagnostics
      .filter((d) => d.severity <= 1)
      .map((d) => `${d.code} ${d.message} at ${d.path.join('.')}`);
    expect(problems).toEqual([]);
    expect(parsed.document).toBeDefined();
    expect(parsed.document!.version()).toBe('3.0.0');
  });

  test('lists exactly the public events defined in contracts, with their versions', () => {
    const listed = parsed
      .document!.messages()
      .all()
      .map((m) => {
        const payload = m.payload()!.json() as { properties: { type: { const: string }; version: { const: number } } };
        return `${payload.properties.type.const}@${payload.properties.version.const}`;
      })
      .sort();
    const defined = publicEventDefinitions.map((d) => `${d.type}@${d.version}`).sort();
    expect(listed).toEqual(defined);
    expect(new Set(listed).size).toBe(listed.length);
  });

  test('puts each message on its aggregate channel with the dedup and type headers', () => {
    for (const d of publicEventDefinitions) {
      const channel = parsed
        .document!.channels()
        .all()
        .find((c) => c.address() === `${d.context}.${d.aggregate}.{${d.aggregate}Id}`);
      expect(channel).toBeDefined();
      const message = channel!
        .messages()
        .all()
        .find((m) => m.id() === asyncApiMessageId(d));
      expect(message).toBeDefined();
      const headers = message!.headers()!.json() as {
        required: string[];
        properties: Record<string, { const?: string }>;
      };
      expect(headers.required).toEqual([eventHeaderNames.messageId, eventHeaderNames.type, eventHeaderNames.version]);
      expect(headers.properties[eventHeaderNames.type]!.const).toBe(d.type);
      expect(headers.properties[eventHeaderNames.version]!.const).toBe(String(d.version));
    }
    expect(
      parsed
        .document!.operations()
        .all()
        .every((o) => o.action() === 'send'),
    ).toBe(true);
  });

  test('every message carries an example its own contract accepts', () => {
    const messages = parsed.document!.components().messages().all();
    expect(messages.length).toBe(publicEventDefinitions.length);
    for (const message of messages) {
      const examples = message.examples().all();
      expect(examples.length).toBe(1);
      const payload = examples[0]!.payload() as { type: string; version: number };
      const definition = findEventDefinition(payload.type, payload.version)!;
      expect(asyncApiMessageId(definition)).toBe(message.id());
      expect(() => definition.parse(payload)).not.toThrow();
      expect(examples[0]!.headers()).toMatchObject({ [eventHeaderNames.type]: payload.type });
    }
  });

  test(`equals what the generator produces now. ${fix}`, () => {
    expect(committed).toBe(renderAsyncApiYaml());
  });

  test('the generator is pure: two runs give the same document', () => {
    expect(JSON.stringify(buildAsyncApiDocument())).toBe(JSON.stringify(buildAsyncApiDocument()));
  });
});
