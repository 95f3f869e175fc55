/** Slice: CertifyDevices and its window of CSR requests on the in-memory event store, downlinks kept in memory. */
import { randomUUID } from 'node:crypto';
import { CrlPublished, CsrRequestExpired, RevocationRequested, type DeviceEnvelope } from '@tunnelkey/contracts';
import { waitFor } from '@tunnelkey/testing';
import { issuingAuthorityId } from '../authority/certificate-authority.js';
import { authorityStream } from '../deciders/authority.decider.js';
import { crlStream } from '../deciders/crl.decider.js';
import { deviceCertificatesStream } from '../deciders/device-certificates.decider.js';
import { CaCommandRejected } from '../errors.js';
import { CsrUplinkController } from '../issue-certificate/csr.uplink-controller.js';
import { IssueCertificateHandler } from '../issue-certificate/issue-certificate.handler.js';
import { RevokeCertificatesHandler } from '../revoke-certificates/revoke-certificates.handler.js';
import {
  caSlice,
  silent,
  type CaSlice,
  type CsrWindowOptions,
  type TestDevice,
} from '../test-support/ca-slice.test-helper.js';
import { PendingCsrRequestsView } from '../views/pending-csr-requests.view.js';
import { CertifyDevicesHandler } from './certify-devices.handler.js';
import { csrRequestStream } from './csr-request.decider.js';
import { CsrRequestsJob } from './csr-requests.job.js';

describe('certify-devices slice (in-memory store)', () => {
  let ca: CaSlice;
  let handler: CertifyDevicesHandler;

  beforeEach(async () => {
    ca = await caSlice();
  });
  afterEach(() => ca.stop());

  /** CertifyDevices with its window (options as CA_CSR_*); the sweep runs only when a test calls it. */
  const certifier = (options: CsrWindowOptions = {}) => {
    const requests = ca.csrRequests(options);
    handler = new CertifyDevicesHandler(
      ca.eligibility,
      ca.authority,
      ca.crls,
      requests,
      ca.store,
      options.clock ?? ca.clock,
      silent,
    );
    return requests;
  };
  const csrRequests = () => ca.sent.filter((s) => s.envelope.kind === 'csr-request');
  const bodyOf = (envelope: DeviceEnvelope) => envelope.body as { requestId: string; keyId: string };
  const askedDevices = () => new Set(csrRequests().map((s) => s.envelope.deviceId));

  describe('which devices are asked', () => {
    beforeEach(() => void certifier());

    it('asks every verified, unrevoked device of the batch for a CSR, once its issuing CA has a CRL', async () => {
      const verified = [await ca.device('b'), await ca.device('b')];
      await ca.device('b', { verified: false });
      const revoked = await ca.device('b');
      await ca.registry.revokeDevice(revoked.deviceId);
      const commandId = randomUUID();
      expect(await handler.handle({ commandId, scope: { kind: 'batch', batchId: 'b' } })).toEqual({ devices: 2 });
      await waitFor(() => csrRequests().length === 2);
      expect([...askedDevices()].sort()).toEqual(verified.map((d) => d.deviceId).sort());
      expect(csrRequests().every((s) => bodyOf(s.envelope).keyId === 'enrolment')).toBe(true);
      const authorityId = issuingAuthorityId('acme');
      expect((await ca.events(authorityStream(authorityId))).map((e) => e.type)).toEqual(['AuthorityCreated']);
      const crls = await ca.events(crlStream(authorityId));
      expect(crls.map((e) => CrlPublished.parse(e).data)).toEqual([
        expect.objectContaining({ crlNumber: 1, revokedCount: 0 }),
      ]);
    });

    it('records each request on its own stream before asking', async () => {
      const device = await ca.device('b');
      const commandId = randomUUID();
      await handler.handle({ commandId, scope: { kind: 'device', deviceId: device.deviceId }, keyId: 'tls-1' });
      await waitFor(() => csrRequests().length === 1);
      const { requestId } = bodyOf(csrRequests()[0]!.envelope);
      expect(await ca.events(csrRequestStream(requestId))).toEqual([
        expect.objectContaining({
          type: 'CsrRequested',
          correlationId: commandId,
          data: expect.objectContaining({ deviceId: device.deviceId, requestId, keyId: 'tls-1' }),
        }),
      ]);
      // The device's certificate stream holds only answers.
      expect(await ca.events(deviceCertificatesStream(device.deviceId))).toEqual([]);
    });

    it('asks for the same request ids when the command is retried, records them once, and publishes no second CRL', async () => {
      const device = await ca.device('b');
      const command = { commandId: randomUUID(), scope: { kind: 'batch' as const, batchId: 'b' }, keyId: 'tls-1' };
      await handler.handle(command);
      await waitFor(() => csrRequests().length === 1);
      await handler.handle(command);
      await waitFor(() => csrRequests().length === 2);
      const [first, second] = csrRequests().map((s) => bodyOf(s.envelope));
      expect(second).toEqual(first);
      expect(first?.keyId).toBe('tls-1');
      expect(await ca.all('ca', 'csr-request')).toEqual([
        expect.objectContaining({ type: 'CsrRequested', data: expect.objectContaining({ deviceId: device.deviceId }) }),
      ]);
      expect(await ca.events(crlStream(issuingAuthorityId('acme')))).toHaveLength(1);
    });

    it('refuses a single device that may not be certified, with the reason, and asks nobody', async () => {
      const unverified = await ca.device('b', { verified: false });
      const refusal = handler.handle({
        commandId: randomUUID(),
        scope: { kind: 'device', deviceId: unverified.deviceId },
      });
      await expect(refusal).rejects.toThrow(CaCommandRejected);
      await expect(refusal).rejects.toMatchObject({ reason: 'device-not-verified' });
      expect(csrRequests()).toEqual([]);
    });

    it('leaves out devices the registry does not know', async () => {
      const known = await ca.device('b');
      const result = await handler.handle({
        commandId: randomUUID(),
        scope: { kind: 'devices', deviceIds: [known.deviceId, 'd-unknown'] },
      });
      expect(result).toEqual({ devices: 1 });
      await waitFor(() => csrRequests().length === 1);
      expect(csrRequests().map((s) => s.envelope.deviceId)).toEqual([known.deviceId]);
    });
  });

  describe('the window of outstanding CSR requests', () => {
    /** A manual clock: the sweep's timeouts move only when a test moves it. */
    let now: number;
    const clock = () => new Date(now);
    const seconds = (s: number) => (now += s * 1000);
    beforeEach(() => (now = Date.now()));

    /** The devices' side: each CSR through the CA's uplink (issued, recorded with the window's cache). */
    const uplink = () =>
      new CsrUplinkController(
        undefined as never,
        ca.config,
        ca.eligibility,
        new IssueCertificateHandler(ca.store, ca.authority, ca.eligibility, silent),
        ca.downlinks,
        { observe: () => undefined },
        ca.clock,
        silent,
        true,
      );
    const answer = async (devices: Map<string, TestDevice>, requestId: string, deviceId: string) => {
      const device = devices.get(deviceId)!;
      const csr = Buffer.from(await device.csr()).toString('base64');
      const message = await device.csrMessage({ requestId, keyId: 'enrolment', csr });
      return uplink().handle(message.subject, message.data);
    };
    const batchOf = async (n: number) => {
      const devices = new Map<string, TestDevice>();
      for (let i = 0; i < n; i++) {
        const device = await ca.device('b');
        devices.set(device.deviceId, device);
      }
      return devices;
    };
    /** The requests asked and not answered, after each downlink in order: the window's occupancy over time. */
    const occupancy = () => {
      const open = new Set<string>();
      return ca.sent.map(({ envelope }) => {
        if (envelope.kind === 'csr-request') open.add(bodyOf(envelope).requestId);
        if (envelope.kind === 'certificate') open.delete(bodyOf(envelope).requestId);
        return open.size;
      });
    };

    it('never has more than the window outstanding; each answer frees a slot for the next device; the reply comes at once', async () => {
      const requests = certifier({ window: 3, clock });
      const devices = await batchOf(8);
      expect(await handler.handle({ commandId: randomUUID(), scope: { kind: 'batch', batchId: 'b' } })).toEqual({
        devices: 8,
      });
      await requests.idle();
      expect(askedDevices().size).toBe(3);
      expect(requests.outstanding).toBe(3);
      expect(requests.queued).toBe(5);
      // Only the devices asked are recorded as asked; all eight as owed a request, before the reply.
      expect(await ca.all('ca', 'csr-request')).toHaveLength(3);
      const queued = await ca.all('ca', 'certification');
      expect(queued.map((e) => e.type)).toEqual(['CsrRequestsQueued']);
      expect([...(queued[0]!.data as { deviceIds: string[] }).deviceIds].sort()).toEqual([...devices.keys()].sort());
      // The devices answer one by one, each as soon as it is asked.
      const answered = new Set<string>();
      while (answered.size < 8) {
        const next = csrRequests().find((s) => !answered.has(bodyOf(s.envelope).requestId));
        expect(next).toBeDefined();
        const { requestId } = bodyOf(next!.envelope);
        expect(await answer(devices, requestId, next!.envelope.deviceId)).toMatchObject({ kind: 'issued' });
        answered.add(requestId);
        await ca.pending.catchUp();
        await requests.idle();
        expect(requests.outstanding).toBe(Math.min(3, 8 - answered.size));
      }
      expect(askedDevices().size).toBe(8);
      expect(csrRequests()).toHaveLength(8); // nobody asked twice
      expect(Math.max(...occupancy())).toBe(3);
      expect(requests.queued).toBe(0);
      // One request recorded and one certificate issued per device.
      expect((await ca.all('ca', 'csr-request')).map((e) => e.type)).toEqual(Array(8).fill('CsrRequested'));
      for (const deviceId of devices.keys())
        expect((await ca.events(deviceCertificatesStream(deviceId))).map((e) => e.type)).toEqual(['CertificateIssued']);
    });

    it('an answer recorded by another CA instance frees the slot too', async () => {
      const requests = certifier({ window: 1, clock });
      const devices = await batchOf(2);
      await handler.handle({ commandId: randomUUID(), scope: { kind: 'batch', batchId: 'b' } });
      await requests.idle();
      const [first] = csrRequests();
      // Another instance's issuance.
      const elsewhere = new IssueCertificateHandler(ca.store, ca.authority, ca.eligibility, silent);
      const device = devices.get(first!.envelope.deviceId)!;
      await elsewhere.issue({
        deviceId: device.deviceId,
        requestId: bodyOf(first!.envelope).requestId,
        keyId: 'enrolment',
        csrDer: await device.csr(),
        receivedAt: new Date(),
      });
      expect(askedDevices().size).toBe(1);
      await ca.pending.catchUp();
      await requests.idle();
      expect(askedDevices().size).toBe(2);
    });

    it('asks a device that has not answered again after the retry wait, with the same request, the wait doubling', async () => {
      const requests = certifier({ window: 5, retrySeconds: 30, expirySeconds: 600, clock });
      const device = await ca.device('b');
      await handler.handle({ commandId: randomUUID(), scope: { kind: 'device', deviceId: device.deviceId } });
      await requests.idle();
      expect(csrRequests()).toHaveLength(1);
      const sweepAt = async (secondsLater: number) => {
        seconds(secondsLater);
        await requests.sweep();
        return csrRequests().length;
      };
      expect(await sweepAt(29)).toBe(1); // t = 29 s
      expect(await sweepAt(1)).toBe(2); // t = 30 s: asked again
      expect(await sweepAt(59)).toBe(2); // t = 89 s: the wait is 60 s now
      expect(await sweepAt(1)).toBe(3); // t = 90 s
      expect(await sweepAt(119)).toBe(3); // t = 209 s
      expect(await sweepAt(1)).toBe(4); // t = 210 s
      const bodies = csrRequests().map((s) => bodyOf(s.envelope));
      expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(1);
      // Asked four times, recorded once.
      expect((await ca.events(csrRequestStream(bodies[0]!.requestId))).map((e) => e.type)).toEqual(['CsrRequested']);
      expect(requests.outstanding).toBe(1);
    });

    it('gives a request up at its expiry, records it, and asks the next device in its slot', async () => {
      const requests = certifier({ window: 1, retrySeconds: 30, expirySeconds: 600, clock });
      const devices = await batchOf(2);
      await handler.handle({ commandId: randomUUID(), scope: { kind: 'batch', batchId: 'b' } });
      await requests.idle();
      const [silentOne] = [...askedDevices()];
      const [other] = [...devices.keys()].filter((id) => id !== silentOne);
      const { requestId } = bodyOf(csrRequests()[0]!.envelope);
      for (let t = 0; t < 570; t += 30) {
        seconds(30);
        await requests.sweep();
      }
      expect(askedDevices()).toEqual(new Set([silentOne])); // t = 570 s: still its turn
      seconds(30); // t = 600 s
      await requests.sweep();
      await ca.pending.catchUp();
      await requests.idle();
      const events = await ca.events(csrRequestStream(requestId));
      expect(events.map((e) => e.type)).toEqual(['CsrRequested', 'CsrRequestExpired']);
      expect(CsrRequestExpired.parse(events[1]).data).toEqual({ deviceId: silentOne, requestId, asks: 5 });
      expect(ca.pending.isPending(requestId)).toBe(false);
      expect(askedDevices()).toEqual(new Set([silentOne, other]));
      // Nobody asks it again.
      seconds(3600);
      await requests.sweep();
      expect(csrRequests().filter((s) => s.envelope.deviceId === silentOne)).toHaveLength(5);
      // A late answer to the last ask is still issued, once.
      expect(await answer(devices, requestId, silentOne!)).toMatchObject({ kind: 'issued' });
    });

    it('a device revoked while asked leaves the window: not asked again, its slot goes to the next device', async () => {
      const requests = certifier({ window: 1, retrySeconds: 30, clock });
      await batchOf(2);
      await handler.handle({ commandId: randomUUID(), scope: { kind: 'batch', batchId: 'b' } });
      await requests.idle();
      const [victim] = [...askedDevices()];
      const revocationId = `rv-${randomUUID()}`;
      await new RevokeCertificatesHandler(ca.store, ca.crls, ca.revoked, ca.clock, silent).apply(
        RevocationRequested.create({
          id: randomUUID(),
          aggregateId: revocationId,
          occurredAt: new Date().toISOString(),
          causationId: 'test',
          correlationId: `corr-${revocationId}`,
          data: { revocationId, scope: 'device', deviceIds: [victim!], reason: 'keyCompromise' },
        }),
      );
      await ca.pending.catchUp();
      await requests.idle();
      expect(askedDevices().size).toBe(2);
      seconds(60);
      await requests.sweep();
      expect(csrRequests().filter((s) => s.envelope.deviceId === victim)).toHaveLength(1);
    });

    it('a replica takes over the requests a crashed one left pending, two retry waits after their first ask', async () => {
      const requests = certifier({ window: 2, retrySeconds: 30, clock });
      await batchOf(2);
      await handler.handle({ commandId: randomUUID(), scope: { kind: 'batch', batchId: 'b' } });
      await requests.idle();
      const asked = csrRequests().map((s) => bodyOf(s.envelope).requestId);
      expect(asked).toHaveLength(2);
      await requests.onModuleDestroy(); // crashed: nobody asks these two again
      // The survivor, running all along: its own view and window, no resume at start.
      const pending = await PendingCsrRequestsView.start(ca.store, silent);
      const survivor = new CsrRequestsJob(
        ca.store,
        pending,
        ca.eligibility,
        ca.downlinks,
        { csrWindow: 2, csrRetrySeconds: 30, csrExpirySeconds: 600 },
        clock,
        silent,
      );
      try {
        seconds(59);
        await survivor.sweep();
        await survivor.idle();
        expect(survivor.outstanding).toBe(0); // one retry wait and more: its owner may still ask
        seconds(1);
        await survivor.sweep();
        await survivor.idle();
        expect(survivor.outstanding).toBe(2);
        expect(csrRequests().map((s) => bodyOf(s.envelope).requestId)).toEqual([...asked, ...asked]);
        expect(await ca.all('ca', 'csr-request')).toHaveLength(2); // asked again, not recorded again
      } finally {
        await survivor.onModuleDestroy();
        await pending.stop();
      }
    });

    it('a restarted instance resumes the pending requests from the log (asked again, not recorded again) and asks the devices queued and never asked', async () => {
      const requests = certifier({ window: 2, clock });
      const devices = await batchOf(3);
      await handler.handle({ commandId: randomUUID(), scope: { kind: 'batch', batchId: 'b' } });
      await requests.idle();
      const asked = csrRequests().map((s) => bodyOf(s.envelope).requestId);
      expect(asked).toHaveLength(2);
      expect(requests.queued).toBe(1); // in memory only, before CsrRequestsQueued: lost with the process
      await requests.onModuleDestroy();
      // The new process: the view rebuilt from the log, an empty cache, its own window.
      const pending = await PendingCsrRequestsView.start(ca.store, silent);
      try {
        const restarted = new CsrRequestsJob(
          ca.store,
          pending,
          ca.eligibility,
          ca.downlinks,
          { csrWindow: 3, csrRetrySeconds: 30, csrExpirySeconds: 600 },
          clock,
          silent,
        );
        expect(restarted.resume()).toBe(3);
        await restarted.idle();
        const after = csrRequests().map((s) => bodyOf(s.envelope).requestId);
        expect(after.slice(0, 2)).toEqual(asked);
        expect(after.slice(2, 4).sort()).toEqual([...asked].sort());
        expect(after).toHaveLength(5);
        expect(new Set(csrRequests().map((s) => s.envelope.deviceId))).toEqual(new Set(devices.keys()));
        expect(restarted.outstanding).toBe(3);
        expect(await ca.all('ca', 'csr-request')).toHaveLength(3); // the third recorded once, when asked
        await pending.catchUp();
        expect(pending.queued()).toEqual([]);
        // Started again: nothing queued any more, the three pending.
        await restarted.onModuleDestroy();
        const again = new CsrRequestsJob(
          ca.store,
          pending,
          ca.eligibility,
          ca.downlinks,
          { csrWindow: 3, csrRetrySeconds: 30, csrExpirySeconds: 600 },
          clock,
          silent,
        );
        expect(again.resume()).toBe(3);
        await again.idle();
        expect(await ca.all('ca', 'csr-request')).toHaveLength(3);
        await again.onModuleDestroy();
      } finally {
        await pending.stop();
      }
    });

    it('a replica asks the devices a crashed one queued and never asked, two retry waits after the command; each gets one certificate', async () => {
      const requests = certifier({ window: 1, retrySeconds: 30, clock });
      const devices = await batchOf(3);
      await handler.handle({ commandId: randomUUID(), scope: { kind: 'batch', batchId: 'b' } });
      await requests.idle();
      expect(askedDevices().size).toBe(1);
      await requests.onModuleDestroy(); // crashed: one asked, two queued in its memory
      const pending = await PendingCsrRequestsView.start(ca.store, silent);
      const survivor = new CsrRequestsJob(
        ca.store,
        pending,
        ca.eligibility,
        ca.downlinks,
        { csrWindow: 3, csrRetrySeconds: 30, csrExpirySeconds: 600 },
        clock,
        silent,
      );
      try {
        seconds(59);
        await survivor.sweep();
        await survivor.idle();
        expect(survivor.outstanding).toBe(0);
        expect(askedDevices().size).toBe(1);
        seconds(1);
        await survivor.sweep();
        await survivor.idle();
        expect(survivor.outstanding).toBe(3);
        expect(askedDevices()).toEqual(new Set(devices.keys()));
        // A sweep later nothing is queued twice.
        seconds(1);
        await survivor.sweep();
        await survivor.idle();
        expect(survivor.queued).toBe(0);
        // Every device answers every request it got (the first one twice): one certificate each.
        for (const sent of csrRequests())
          expect(await answer(devices, bodyOf(sent.envelope).requestId, sent.envelope.deviceId)).toMatchObject({
            kind: 'issued',
          });
        for (const deviceId of devices.keys())
          expect((await ca.events(deviceCertificatesStream(deviceId))).map((e) => e.type)).toEqual([
            'CertificateIssued',
          ]);
        await pending.catchUp();
        expect([pending.size, pending.queued().length]).toEqual([0, 0]);
      } finally {
        await survivor.onModuleDestroy();
        await pending.stop();
      }
    });
  });
});
