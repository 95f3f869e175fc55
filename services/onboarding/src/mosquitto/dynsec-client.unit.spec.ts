import { brokerOverdue } from './dynsec-client.js';

describe('brokerOverdue (the dynamic-security client gives up on a broker that stopped answering, not on a slow one)', () => {
  const allowance = { timeoutMs: 15_000, perCommandMs: 100 };

  test('the oldest request is late once the broker was silent past the base allowance plus its commands', () => {
    const oldest = { sentAt: 1_000, commands: 200 };
    // 15 s + 200 x 100 ms = 35 s
    expect(brokerOverdue(oldest, 0, 1_000 + 35_000, allowance)).toBe(false);
    expect(brokerOverdue(oldest, 0, 1_000 + 35_001, allowance)).toBe(true);
  });

  test('a request queued behind slow ones starts its clock at the last answer, not when it was sent', () => {
    // Sent at 0 with three requests ahead of it; the broker answered the last of them at 60 s.
    const queued = { sentAt: 0, commands: 200 };
    expect(brokerOverdue(queued, 60_000, 90_000, allowance)).toBe(false);
    expect(brokerOverdue(queued, 60_000, 95_001, allowance)).toBe(true);
  });

  test('an answer to an earlier request long before this one was sent does not shorten its allowance', () => {
    expect(brokerOverdue({ sentAt: 100_000, commands: 10 }, 5_000, 115_500, allowance)).toBe(false);
    expect(brokerOverdue({ sentAt: 100_000, commands: 10 }, 5_000, 116_001, allowance)).toBe(true);
  });
});
