import { NotFoundException } from '@nestjs/common';
import { ContractViolation } from '@tunnelkey/contracts';
import { CommandFailed } from '@tunnelkey/messaging';
import { BadRequest, Forbidden, NotFound, Unauthenticated } from '../errors.js';
import { errorResponse } from './http-error.filter.js';

describe('errorResponse: every error mapped once to an HTTP status and a clear message', () => {
  it.each([
    [new BadRequest('bad'), 400, 'MALFORMED'],
    [new Unauthenticated('who?'), 401, 'UNAUTHENTICATED'],
    [new Forbidden('no'), 403, 'FORBIDDEN'],
    [new NotFound('gone'), 404, 'NOT_FOUND'],
    [new CommandFailed('NOT_FOUND', 'batch b1 is not known'), 404, 'NOT_FOUND'],
    [new CommandFailed('CONFLICT', 'exists'), 409, 'CONFLICT'],
    [new CommandFailed('REJECTED', 'refused'), 422, 'REJECTED'],
    [new CommandFailed('device-revoked', 'the device is revoked'), 422, 'device-revoked'],
    [new CommandFailed('UNAVAILABLE', 'no answer'), 503, 'UNAVAILABLE'],
    [new CommandFailed('TOO_LARGE', 'too big'), 413, 'TOO_LARGE'],
    [new CommandFailed('CONTRACT_VIOLATION', 'bad payload'), 400, 'CONTRACT_VIOLATION'],
  ])('%p -> %i', (error, status, code) => {
    const mapped = errorResponse(error);
    expect(mapped.status).toBe(status);
    expect(mapped.body.error.code).toBe(code);
    expect(mapped.body.error.message).toBe((error as Error).message);
  });

  it('names the failing paths of a contract violation', () => {
    const mapped = errorResponse(
      new ContractViolation('command CreateBatch does not match its contract', [
        { path: '/expectedSize', message: 'Expected integer' },
      ]),
    );
    expect(mapped.status).toBe(400);
    expect(mapped.body.error.details).toEqual([{ path: '/expectedSize', message: 'Expected integer' }]);
  });

  it("keeps Nest's own HTTP errors (e.g. an unknown route)", () => {
    expect(errorResponse(new NotFoundException('Cannot GET /nope')).status).toBe(404);
  });

  it('hides the message of an unknown error (it may carry input or key material)', () => {
    const mapped = errorResponse(new Error('key=-----BEGIN PRIVATE KEY-----'));
    expect(mapped.status).toBe(500);
    expect(mapped.body.error.message).not.toContain('PRIVATE');
  });
});
