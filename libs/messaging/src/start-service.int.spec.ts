import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Controller, Inject, Module, OnModuleInit } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { CommandClient, READINESS_CHECKS, ReadinessRegistry, startService, type RunningService } from './index.js';

const namespace = `t${randomUUID().slice(0, 8)}`;
const subject = 'cmd.demo.ping';
const refuseSubject = 'cmd.demo.refuse';
let projectionReady = false;
let initCalls = 0;
let bootstrapCalls = 0;

@Controller()
class PingController implements OnModuleInit {
  constructor(@Inject(READINESS_CHECKS) private readonly readiness: ReadinessRegistry) {}
  onApplicationBootstrap() {
    bootstrapCalls++;
  }
  onModuleInit() {
    initCalls++;
    this.readiness.add({ name: 'demo-projection', ready: () => projectionReady });
  }
  @MessagePattern(subject)
  ping() {
    return 'pong';
  }

  @MessagePattern(refuseSubject)
  refuse(): never {
    throw Object.assign(new Error('policy p-1 does not exist'), {
      name: 'CommandRejected',
      code: 'REJECTED',
      reason: 'unknown-policy',
    });
  }
}

@Module({ controllers: [PingController] })
class DemoModule {}

describe('startService: a hybrid service with health, readiness, metrics and commands', () => {
  let service: RunningService;
  beforeAll(async () => {
    service = await startService({ service: 'demo', module: DemoModule, namespace, logger: false });
  });
  afterAll(() => service.stop());

  it('runs each lifecycle hook once, although HTTP and NATS share one module graph', () => {
    expect(initCalls).toBe(1);
    expect(bootstrapCalls).toBe(1);
  });

  it('answers commands over NATS', async () => {
    await expect(new CommandClient(service.nats).request(`${namespace}.${subject}`, {})).resolves.toBe('pong');
  });

  it('maps a typed refusal through the one command filter (its code and message reach the caller)', async () => {
    const failure = await new CommandClient(service.nats)
      .request(`${namespace}.${refuseSubject}`, {})
      .catch((e: unknown) => e);
    expect(failure).toMatchObject({ code: 'unknown-policy', message: 'policy p-1 does not exist' });
  });

  it('is live, reports readiness from registered checks, and exposes metrics', async () => {
    expect((await fetch(`${service.url}/health`)).status).toBe(200);
    const notReady = await fetch(`${service.url}/ready`);
    expect(notReady.status).toBe(503);
    expect(JSON.stringify(await notReady.json())).toContain('demo-projection');
    projectionReady = true;
    expect((await fetch(`${service.url}/ready`)).status).toBe(200);
    const response = await fetch(`${service.url}/metrics`);
    // Prometheus refuses to scrape text/html: the text exposition format, version 0.0.4.
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const metrics = await response.text();
    expect(metrics).toContain('process_cpu_user_seconds_total{service="demo"}');
    expect(metrics).toContain('# TYPE eventstore_append_seconds histogram');
    // The commands answered above, by outcome.
    expect(metrics).toContain('command_seconds_count{service="demo",command="cmd.demo.ping",outcome="ok"} 1');
    expect(metrics).toContain(
      'command_seconds_count{service="demo",command="cmd.demo.refuse",outcome="unknown-policy"} 1',
    );
  });
});
