import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern, Payload, type MicroserviceOptions } from '@nestjs/microservices';
import { connectNats } from '@tunnelkey/config';
import type { NatsConnection } from '@nats-io/transport-node';
import type { INestMicroservice } from '@nestjs/common';
import { CommandClient, CommandErrorFilter, CommandFailed, NatsCommandServer } from './index.js';

const namespace = `t${randomUUID().slice(0, 8)}`;
const echo = `${namespace}.cmd.test.echo`;
const refuse = `${namespace}.cmd.test.refuse`;
const crash = `${namespace}.cmd.test.crash`;

class Refused extends Error {
  override readonly name = 'CommandRejected';
  readonly code = 'REJECTED';
  readonly reason = 'BATCH_FULL';
}

@Controller()
class TestCommandsController {
  @MessagePattern(echo)
  echo(@Payload() payload: { text: string }) {
    return { echoed: payload.text };
  }

  @MessagePattern(refuse)
  refuse(): never {
    throw new Refused('batch b-1 is full');
  }

  @MessagePattern(crash)
  crash(): never {
    throw new Error('secret-key-material-must-not-leak');
  }
}

@Module({ controllers: [TestCommandsController] })
class TestModule {}

describe('NatsCommandServer against the real NATS server', () => {
  let app: INestMicroservice;
  let nc: NatsConnection;
  let client: CommandClient;

  beforeAll(async () => {
    nc = await connectNats({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' });
    app = await NestFactory.createMicroservice<MicroserviceOptions>(TestModule, {
      strategy: new NatsCommandServer({ connection: nc, queue: 'test', maxRequestBytes: 1024 }),
      logger: false,
    });
    app.useGlobalFilters(new CommandErrorFilter());
    await app.listen();
    client = new CommandClient(nc);
  });

  afterAll(async () => {
    await app.close();
    await nc.drain();
  });

  it('answers a command with its result', async () => {
    await expect(client.request(echo, { text: 'hi' })).resolves.toEqual({ echoed: 'hi' });
  });

  it('maps a typed refusal to its reason code and message', async () => {
    const failure = await client.request(refuse, {}).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(CommandFailed);
    expect(failure).toMatchObject({ code: 'BATCH_FULL', message: 'batch b-1 is full' });
  });

  it('hides the text of an unexpected error', async () => {
    const failure = (await client.request(crash, {}).catch((e: unknown) => e)) as CommandFailed;
    expect(failure.code).toBe('INTERNAL');
    expect(failure.message).not.toContain('secret');
  });

  it('refuses malformed JSON and oversized requests with a clear code', async () => {
    const malformed = (await nc.request(echo, new TextEncoder().encode('{not json'))).json<{
      ok: boolean;
      error: { code: string };
    }>();
    expect(malformed).toMatchObject({ ok: false, error: { code: 'MALFORMED' } });
    const large = await client.request(echo, { text: 'x'.repeat(2048) }).catch((e: unknown) => e);
    expect(large).toMatchObject({ code: 'TOO_LARGE' });
  });
});
