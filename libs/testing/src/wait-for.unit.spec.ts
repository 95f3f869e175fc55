import { waitFor, withTimeout } from './wait-for.js';

describe('waitFor', () => {
  test('returns the first truthy value', async () => {
    let calls = 0;
    await expect(waitFor(() => (++calls >= 3 ? `done after ${calls}` : undefined), { intervalMs: 1 })).resolves.toBe(
      'done after 3',
    );
  });

  test('times out naming what it waited for, with the last failure as cause', async () => {
    const error = await waitFor(() => Promise.reject(new Error('not yet')), {
      timeoutMs: 20,
      intervalMs: 5,
      description: 'the projection',
    }).catch((e: Error) => e);
    expect(error.message).toMatch(/waiting for the projection/);
    expect((error.cause as Error).message).toBe('not yet');
  });
});

describe('withTimeout', () => {
  test('passes a settled value through, rejects a hanging promise', async () => {
    await expect(withTimeout(Promise.resolve(1), 1_000)).resolves.toBe(1);
    await expect(withTimeout(new Promise(() => undefined), 10, 'hang')).rejects.toThrow(
      'hang did not finish within 10 ms',
    );
  });
});
