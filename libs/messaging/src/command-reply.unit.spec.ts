import { StoreUnavailableError } from '@tunnelkey/eventstore';
import { errorReply } from './command-reply.js';

describe('errorReply', () => {
  it('answers UNAVAILABLE for a store that did not answer, without its message (the command may be sent again)', () => {
    const reply = errorReply(new StoreUnavailableError('no acknowledgement within 5000 ms', { stream: 'X' }));
    expect(reply).toEqual({
      ok: false,
      error: { code: 'UNAVAILABLE', message: 'the service could not reach its store; send the command again' },
    });
  });

  it('answers INTERNAL with a generic message for an unknown error', () => {
    expect(errorReply(new Error('secret-ish detail'))).toEqual({
      ok: false,
      error: { code: 'INTERNAL', message: 'internal error; see the service log' },
    });
  });
});
