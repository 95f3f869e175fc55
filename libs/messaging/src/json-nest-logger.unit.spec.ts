import { pino } from 'pino';
import { JsonNestLogger, logLevelOf } from './json-nest-logger.js';

function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ name: 'demo', level }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { lines, logger };
}

describe("JsonNestLogger: Nest's own lines as the service's JSON", () => {
  it('writes the message with its Nest context and level as JSON, an error with its stack', () => {
    const { lines, logger } = capture('debug');
    const nest = new JsonNestLogger(logger);
    nest.log('Nest application successfully started', 'NestApplication');
    nest.error('boom', 'Error: boom\n    at x', 'ExceptionsHandler');
    expect(lines).toEqual([
      expect.objectContaining({
        level: 20, // Nest's bootstrap lines are debug
        name: 'demo',
        msg: 'Nest application successfully started',
        context: 'NestApplication',
      }),
      expect.objectContaining({ level: 50, msg: 'boom', context: 'ExceptionsHandler', stack: 'Error: boom\n    at x' }),
    ]);
  });

  it('keeps to LOG_LEVEL and to the Nest levels it was given', () => {
    const { lines, logger } = capture('warn');
    const nest = new JsonNestLogger(logger, ['error', 'warn', 'log']);
    nest.log('below LOG_LEVEL');
    nest.verbose('not a Nest level it writes');
    nest.warn('kept');
    expect(lines.map((l) => l.msg)).toEqual(['kept']);
  });

  it('reads LOG_LEVEL, an unknown value as info', () => {
    expect(logLevelOf({ LOG_LEVEL: 'debug' })).toBe('debug');
    expect(logLevelOf({ LOG_LEVEL: 'loud' })).toBe('info');
    expect(logLevelOf({})).toBe('info');
  });
});
