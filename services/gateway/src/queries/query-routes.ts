import { Type, type TSchema } from '@sinclair/typebox';
import { BatchProgressSchema } from './batch-progress/batch-progress.query.js';
import { PolicySchema, TargetSchema } from './catalog/catalog.query.js';
import { DeviceDetailSchema } from './device-detail/device-detail.query.js';
import { HistoryPageSchema } from './device-history/device-history.query.js';
import { deviceListParameters, DeviceSummarySchema } from './device-list/device-list.query.js';
import { HeldEnrolmentSchema, heldEnrolmentsParameters } from './held-enrolments/held-enrolments.query.js';
import { maxPageSize, PageSchema, pageQueryParameters } from './paging.js';

/** The read side's routes (viewer role), for the controller and the OpenAPI document. */
export interface QueryRoute {
  path: string;
  summary: string;
  query?: Record<string, TSchema>;
  response: TSchema;
}

export const queryRoutes = {
  batches: {
    path: '/api/batches',
    summary: 'Batches, newest first, with device counts per state, connected devices and failures.',
    query: pageQueryParameters,
    response: PageSchema(BatchProgressSchema),
  },
  batch: {
    path: '/api/batches/{batchId}',
    summary: "One batch's progress: device counts per state.",
    response: BatchProgressSchema,
  },
  heldEnrolments: {
    path: '/api/batches/{batchId}/held-enrolments',
    summary:
      "Devices the batch's open enrolment-key requests held for approval (no valid manufacturer attestation), with each decision; oldest first, paged. Decide with POST /api/batches/{batchId}/enrolment-key-requests/{requestId}/decisions.",
    query: { ...pageQueryParameters, ...heldEnrolmentsParameters },
    response: PageSchema(HeldEnrolmentSchema),
  },
  devices: {
    path: '/api/devices',
    summary: 'Devices filtered by batch, state, target and connection; paged on the server (import order).',
    query: deviceListParameters,
    response: PageSchema(DeviceSummarySchema),
  },
  device: {
    path: '/api/devices/{deviceId}',
    summary: 'One device: identity, certificate details and chain, connection per target, telemetry.',
    response: DeviceDetailSchema,
  },
  deviceHistory: {
    path: '/api/devices/{deviceId}/history',
    summary:
      "The device's events in every context, oldest first, from the device-history read model; telemetry reports folded into one entry per target (the newest, with `reports`); paged (default 100).",
    query: {
      ...pageQueryParameters,
      limit: Type.Integer({ minimum: 1, maximum: maxPageSize, default: 100, description: 'Page size' }),
    },
    response: HistoryPageSchema,
  },
  policies: {
    path: '/api/policies',
    summary: 'Server policies.',
    query: pageQueryParameters,
    response: PageSchema(PolicySchema),
  },
  policy: { path: '/api/policies/{policyId}', summary: 'One server policy.', response: PolicySchema },
  targets: {
    path: '/api/targets',
    summary: 'Onboarding targets with onboarded and connected device counts.',
    query: pageQueryParameters,
    response: PageSchema(TargetSchema),
  },
  target: { path: '/api/targets/{targetId}', summary: 'One onboarding target.', response: TargetSchema },
} as const satisfies Record<string, QueryRoute>;
