/**
 * A fleet written straight into the event log, as the services would have recorded it: each device
 * imported, verified, certified (a real certificate chain made by openssl), onboarded to one
 * target, connected and reporting once; optionally one busy device with many telemetry reports.
 * For what reads the log (the gateway's read models, its queries and the CLI) at sizes the real
 * fleet takes minutes to reach: bench:api and the CLI's e2e test.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  BatchCreated,
  CertificateIssued,
  DeviceCertified,
  DeviceConnected,
  DeviceIdentityImported,
  DeviceOnboarded,
  IdentityVerified,
  TelemetryReceived,
  type DataOf,
  type EventDefinition,
  type EventEnvelope,
} from '@tunnelkey/contracts';
import { mapBounded } from '@tunnelkey/concurrency';
import type { EventStore } from '@tunnelkey/eventstore';
import { MissingPrerequisiteError } from './infrastructure.js';

const run = promisify(execFile);

/** The owner of the generated batch: a caller of another owner sees none of it. */
export const generatedOwnerId = 'generated-owner';

export interface GeneratedFleet {
  batchId: string;
  targetId: string;
  /** Device ids in import order. */
  deviceIds: string[];
  /** Events appended. */
  events: number;
}

export interface GenerateOptions {
  batchId: string;
  targetId?: string;
  devices: number;
  /** The id of device i (0-based). */
  deviceIdOf?: (i: number) => string;
  /** Telemetry reports of the first device (default 1, like every other one). */
  firstDeviceReports?: number;
  /** Called as devices are appended. */
  progress?: (done: number, total: number) => void;
}

/** A root, an issuing CA and a leaf made by openssl: real PEMs, so the detail route parses a real chain. */
export async function certificateChain(): Promise<{ leaf: string; chain: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'tk-generated-fleet-'));
  const file = (name: string, ext: string) => join(dir, `${name}.${ext}`);
  const make = async (name: string, subject: string, issuer?: string) => {
    await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', file(name, 'key')]);
    if (!issuer) {
      await run('openssl', [
        'req',
        '-new',
        '-x509',
        '-days',
        '30',
        '-key',
        file(name, 'key'),
        '-subj',
        subject,
        '-out',
        file(name, 'pem'),
      ]);
      return;
    }
    await run('openssl', ['req', '-new', '-key', file(name, 'key'), '-subj', subject, '-out', file(name, 'csr')]);
    await run('openssl', [
      'x509',
      '-req',
      '-days',
      '30',
      '-in',
      file(name, 'csr'),
      '-CA',
      file(issuer, 'pem'),
      '-CAkey',
      file(issuer, 'key'),
      '-CAcreateserial',
      '-out',
      file(name, 'pem'),
    ]);
  };
  try {
    await make('root', '/CN=generated root/O=tunnelkey');
    await make('issuing', '/CN=generated issuing/O=tunnelkey', 'root');
    await make('leaf', '/CN=generated device/O=tunnelkey', 'issuing');
    const pem = (name: string) => readFile(file(name, 'pem'), 'utf8');
    return { leaf: await pem('leaf'), chain: [await pem('issuing'), await pem('root')] };
  } catch (error) {
    throw new MissingPrerequisiteError('openssl failed', 'sudo apt-get install -y openssl', { cause: error });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

let clock = Date.UTC(2026, 0, 1);

/** An event of `definition` about `aggregateId`, a millisecond after the previous one. */
export function generatedEvent<E extends EventDefinition>(
  definition: E,
  aggregateId: string,
  data: DataOf<E>,
): EventEnvelope {
  const id = randomUUID();
  clock += 1;
  return definition.create({
    id,
    aggregateId,
    occurredAt: new Date(clock).toISOString(),
    causationId: `generated-${id}`,
    correlationId: 'generated-fleet',
    data,
  });
}

const hex = (n: number, length: number) => n.toString(16).padStart(length, '0').slice(-length);

/** Report number `report` (1 = the first) of a device to a target. */
export function telemetryReport(deviceId: string, targetId: string, report: number): EventEnvelope {
  const at = new Date(Date.UTC(2026, 0, 2) + report * 1000).toISOString();
  return generatedEvent(TelemetryReceived, deviceId, {
    deviceId,
    targetId,
    kind: report === 1 ? 'first' : 'periodic',
    messagesTotal: report,
    bytesTotal: report * 64,
    messagesInWindow: 1,
    windowStart: at,
    firstMessageAt: new Date(Date.UTC(2026, 0, 2)).toISOString(),
    lastMessageAt: at,
    lastTopic: `devices/${deviceId}/telemetry`,
  });
}

/** One device's life as the services record it: three streams, seven events. */
function lifeOf(
  deviceId: string,
  i: number,
  batchId: string,
  targetId: string,
  pems: { leaf: string; chain: string[] },
) {
  const digest = hex(i, 8).repeat(8);
  const serial = hex(i + 1, 32);
  return {
    registry: [
      generatedEvent(DeviceIdentityImported, deviceId, {
        deviceId,
        batchId,
        importId: 'generated-import',
        source: 'json',
        enrolmentPublicKey: Buffer.from(`spki-${deviceId}`).toString('base64'),
        enrolmentKeyDigest: digest,
      }),
      generatedEvent(IdentityVerified, deviceId, {
        deviceId,
        challengeId: `ch-${i}`,
        nonceDigest: digest,
        enrolmentKeyDigest: digest,
      }),
      generatedEvent(DeviceCertified, deviceId, {
        deviceId,
        authorityId: 'generated-issuing',
        serialNumber: serial,
        fingerprintSha256: digest,
        notAfter: '2027-01-01T00:00:00.000Z',
      }),
    ],
    ca: [
      generatedEvent(CertificateIssued, deviceId, {
        deviceId,
        requestId: `csr-${i}`,
        authorityId: 'generated-issuing',
        serialNumber: serial,
        subject: `CN=${deviceId},O=tunnelkey`,
        issuer: 'CN=generated issuing,O=tunnelkey',
        notBefore: '2026-01-01T00:00:00.000Z',
        notAfter: '2027-01-01T00:00:00.000Z',
        fingerprintSha256: digest,
        publicKeyDigest: digest,
        keyId: 'tls-0',
        certificatePem: pems.leaf,
        chainPem: pems.chain,
      }),
    ],
    onboarding: [
      generatedEvent(DeviceOnboarded, deviceId, {
        deviceId,
        targetId,
        batchId,
        policyId: 'generated-policy',
        clientId: deviceId,
        roleName: 'generated-role',
        topicPrefix: `devices/${deviceId}`,
      }),
      generatedEvent(DeviceConnected, deviceId, {
        deviceId,
        targetId,
        clientId: deviceId,
        connectedAt: new Date(clock).toISOString(),
        tlsProtocol: 'TLSv1.3',
        cipher: 'TLS_AES_128_GCM_SHA256',
      }),
      telemetryReport(deviceId, targetId, 1),
    ],
  };
}

/** Appends the batch and its devices (64 devices at a time), then the first device's further reports. */
export async function appendGeneratedFleet(store: EventStore, options: GenerateOptions): Promise<GeneratedFleet> {
  const { batchId, devices } = options;
  const targetId = options.targetId ?? 'generated-broker';
  const deviceIdOf = options.deviceIdOf ?? ((i: number) => `d-${String(i).padStart(6, '0')}`);
  const reports = options.firstDeviceReports ?? 1;
  const pems = await certificateChain();
  await store.ensureStreams(['registry', 'ca', 'onboarding']);
  const append = (context: 'registry' | 'ca' | 'onboarding', aggregate: string, id: string, events: EventEnvelope[]) =>
    store.append({ context, aggregate, id }, events, { expectedVersion: 'any', messageId: randomUUID() });
  await append('registry', 'batch', batchId, [
    generatedEvent(BatchCreated, batchId, {
      batchId,
      name: batchId,
      policyId: 'generated-policy',
      ownerId: generatedOwnerId,
      expectedSize: devices,
    }),
  ]);
  const deviceIds = Array.from({ length: devices }, (_, i) => deviceIdOf(i));
  const steps = devices + Math.ceil((reports - 1) / 100);
  let done = 0;
  await mapBounded(deviceIds, 64, async (deviceId, i) => {
    const life = lifeOf(deviceId, i, batchId, targetId, pems);
    await append('registry', 'device', deviceId, life.registry);
    await append('ca', 'device', deviceId, life.ca);
    await append('onboarding', 'device', deviceId, life.onboarding);
    options.progress?.(++done, steps);
  });
  // The first device's further reports, in order on its one subject.
  for (let report = 2; report <= reports; report += 100) {
    const chunk: EventEnvelope[] = [];
    for (let r = report; r < Math.min(report + 100, reports + 1); r++)
      chunk.push(telemetryReport(deviceIds[0]!, targetId, r));
    await append('onboarding', 'device', deviceIds[0]!, chunk);
    options.progress?.(++done, steps);
  }
  return { batchId, targetId, deviceIds, events: 1 + devices * 7 + Math.max(0, reports - 1) };
}
