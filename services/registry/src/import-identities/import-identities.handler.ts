import { Inject, Injectable } from '@nestjs/common';
import { mapBounded } from '@tunnelkey/concurrency';
import {
  ImportIdentities,
  importRejectionReasons,
  maxImportRows,
  type CommandOf,
  type ResultOf,
} from '@tunnelkey/contracts';
import {
  derivedMetadata,
  handleCommand,
  isCommandRejected,
  load,
  metadataOf,
  type EventStore,
} from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import type { RegistryConfig } from '../config.js';
import { batchDecider } from '../deciders/batch.decider.js';
import { deviceDecider } from '../deciders/device.decider.js';
import { BatchAdmission } from '../shared/batch-admission.js';
import type { Clock } from '../shared/clock.js';
import { commandOf } from '../shared/command-metadata.js';
import { DeviceStateCache } from '../shared/device-state-cache.js';
import { notFound, refused } from '../shared/registry-errors.js';
import { RegistryMetrics } from '../shared/registry-metrics.js';
import { batchStream, deviceStream } from '../shared/registry-streams.js';
import { REGISTRY_CLOCK, REGISTRY_CONFIG, REGISTRY_LOGGER } from '../tokens.js';
import { BatchSummaryView } from '../views/batch-summary.view.js';
import { checkIdentityRows, suppliedCsvRows, suppliedJsonRows, type ImportRejectionReason } from './identity-rows.js';

type ImportResult = ResultOf<typeof ImportIdentities>;
type RowReport = ImportResult['rows'][number];

/** The command with JSON rows left unchecked: each row is judged on its own, in the report. */
type ImportRequest = Omit<CommandOf<typeof ImportIdentities>, 'source'> & {
  source: { format: 'json'; rows: unknown[] } | { format: 'csv'; text: string };
};

const placeholderRow = { deviceId: 'row', enrolmentPublicKey: 'row' };

/** Validates everything but the JSON rows' contents; a malformed row must become that row's rejection, not fail the call. */
export function parseImportRequest(payload: unknown): ImportRequest {
  const source = (payload as { source?: { format?: unknown; rows?: unknown } } | null)?.source;
  if (source?.format === 'json' && Array.isArray(source.rows)) {
    if (source.rows.length > maxImportRows)
      throw refused('TOO_LARGE', `an import takes at most ${maxImportRows} rows; split the file`, {
        rows: source.rows.length,
      });
    if (source.rows.length === 0) throw refused('MALFORMED', 'the import has no rows', {});
    const probe = ImportIdentities.parse({
      ...(payload as object),
      source: { format: 'json', rows: [placeholderRow] },
    });
    return { ...probe, source: { format: 'json', rows: source.rows } };
  }
  return ImportIdentities.parse(payload);
}

const reportableReasons: ReadonlySet<string> = new Set(importRejectionReasons);

@Injectable()
export class ImportIdentitiesHandler {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly deviceStates: DeviceStateCache,
    private readonly admission: BatchAdmission,
    private readonly batches: BatchSummaryView,
    private readonly metrics: RegistryMetrics,
    @Inject(REGISTRY_CONFIG) private readonly config: RegistryConfig,
    @Inject(REGISTRY_CLOCK) private readonly clock: Clock,
    @Inject(REGISTRY_LOGGER) private readonly logger: Logger,
  ) {}

  async handle(payload: unknown): Promise<ImportResult> {
    const started = performance.now();
    const { commandId, correlationId, actor, batchId, importId, source } = parseImportRequest(payload);
    const metadata = metadataOf({ commandId, correlationId, actor }, this.clock());
    const batch = (await load(this.store, batchDecider, batchStream(batchId))).state;
    if (batch.status !== 'Created') throw notFound(`batch ${batchId}`, { batchId });

    const supplied = source.format === 'json' ? suppliedJsonRows(source.rows) : suppliedCsvRows(source.text);
    if (supplied.length === 0) throw refused('MALFORMED', 'the import has no rows', { batchId });
    if (supplied.length > maxImportRows) {
      throw refused('TOO_LARGE', `an import takes at most ${maxImportRows} rows; split the file`, {
        rows: supplied.length,
      });
    }

    const verdicts = checkIdentityRows(supplied);
    const reports: RowReport[] = new Array(verdicts.length);
    const candidates: { index: number; identity: Extract<(typeof verdicts)[number], { ok: true }>['identity'] }[] = [];
    verdicts.forEach((verdict, index) => {
      if (verdict.ok) candidates.push({ index, identity: verdict.identity });
      else reports[index] = rejectedRow(verdict.row, verdict.reason, verdict.deviceId);
    });

    const appendStarted = performance.now();
    const deviceIds = candidates.map((c) => c.identity.deviceId);
    const { catchUpMs } = await this.admission.admit(metadata, batchId, deviceIds, async (admitted) => {
      let wrote = false;
      const refused: string[] = [];
      await mapBounded(candidates, this.config.bulkConcurrency, async ({ index, identity }, i) => {
        const { row, deviceId } = identity;
        if (!admitted[i]) {
          reports[index] = rejectedRow(row, 'batch-full', deviceId);
          return;
        }
        try {
          const result = await handleCommand({
            store: this.store,
            decider: deviceDecider,
            stream: deviceStream(deviceId),
            cache: this.deviceStates.for(deviceId),
            command: commandOf(
              'ImportDeviceIdentity',
              {
                deviceId,
                batchId,
                importId,
                source: source.format,
                enrolmentPublicKey: identity.enrolmentPublicKey,
                enrolmentKeyDigest: identity.enrolmentKeyDigest,
                ...(identity.metadata ? { metadata: identity.metadata } : {}),
              },
              derivedMetadata(metadata, deviceId),
            ),
            logger: this.logger,
          });
          if (result.events.length > 0) wrote = true;
          reports[index] = { row, deviceId, status: 'accepted' };
        } catch (error) {
          if (!isCommandRejected(error) || !reportableReasons.has(error.reason)) throw error;
          reports[index] = rejectedRow(row, error.reason as ImportRejectionReason, deviceId);
          refused.push(deviceId);
        }
      });
      return { result: undefined, wrote, refused };
    });

    const appendMs = Math.round(performance.now() - appendStarted - catchUpMs);
    const accepted = reports.filter((r) => r.status === 'accepted').length;
    const rejected = reports.length - accepted;
    await handleCommand({
      store: this.store,
      decider: batchDecider,
      stream: batchStream(batchId),
      command: commandOf('RecordImport', { batchId, importId, source: source.format, accepted, rejected }, metadata),
      logger: this.logger,
    });
    // A batch summary asked for after the reply counts this import.
    await this.batches.catchUp();

    const seconds = (performance.now() - started) / 1000;
    this.metrics.importRows.inc({ status: 'accepted' }, accepted);
    this.metrics.importRows.inc({ status: 'rejected' }, rejected);
    this.metrics.importDuration.observe(seconds);
    this.logger.info(
      {
        event: 'registry.identities_imported',
        batchId,
        importId,
        commandId,
        format: source.format,
        accepted,
        rejected,
        ms: Math.round(seconds * 1000),
        appendMs,
        catchUpMs,
      },
      'identities imported',
    );
    return { batchId, importId, accepted, rejected, rows: reports };
  }
}

function rejectedRow(row: number, reason: ImportRejectionReason, deviceId?: string): RowReport {
  return { row, ...(deviceId ? { deviceId } : {}), status: 'rejected', reason };
}
