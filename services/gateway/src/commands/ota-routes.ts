import {
  AbortRollout,
  DescribeRollout,
  ListFirmware,
  PauseRollout,
  RegisterFirmware,
  RegisterFirmwareProduct,
  ResumeRollout,
  StartRollout,
} from '@tunnelkey/contracts';
import type { CommandRoute } from './command-routes.js';

/** The OTA service's routes (issue 16), part of `commandRoutes`: the controller, OpenAPI and the CLI read them. */
export const otaCommandRoutes = {
  RegisterFirmwareProduct: {
    command: RegisterFirmwareProduct,
    path: '/api/firmware/products',
    role: 'admin',
    status: 200,
    timeoutMs: 15_000,
  },
  RegisterFirmware: {
    command: RegisterFirmware,
    path: '/api/firmware',
    role: 'operator',
    status: 200,
    timeoutMs: 120_000,
    description:
      'Registers an image uploaded with POST /api/firmware/uploads (application/octet-stream, streamed to the ' +
      'object store, at most 64 MiB by default): the OTA service checks its size and SHA-256 against the declared ' +
      'ones, the product is registered and the version above its current release, then signs the release (TUF ' +
      'targets metadata, ECDSA P-256 + ML-DSA-65). 422 `digest-mismatch`, `size-mismatch`, `image-too-large`, ' +
      '`unknown-product`, `version-not-above-current`, `image-not-found`.',
  },
  ListFirmware: { command: ListFirmware, path: '/api/firmware/list', role: 'viewer', status: 200, timeoutMs: 15_000 },
  StartRollout: {
    command: StartRollout,
    path: '/api/rollouts',
    role: 'operator',
    status: 202,
    timeoutMs: 60_000,
    description:
      'Starts rolling a released image out to batches in cumulative waves; devices revoked, not certified, ' +
      'offline or without firmware keys are excluded with their reason. Follow it with ' +
      'POST /api/rollouts/{rolloutId}/progress. 422 `unknown-firmware`, `unknown-batch`, `invalid-waves`, ' +
      '`no-eligible-devices`.',
  },
  PauseRollout: {
    command: PauseRollout,
    path: '/api/rollouts/{rolloutId}/pause',
    role: 'operator',
    status: 200,
    timeoutMs: 15_000,
  },
  ResumeRollout: {
    command: ResumeRollout,
    path: '/api/rollouts/{rolloutId}/resume',
    role: 'operator',
    status: 200,
    timeoutMs: 15_000,
  },
  AbortRollout: {
    command: AbortRollout,
    path: '/api/rollouts/{rolloutId}/abort',
    role: 'operator',
    status: 200,
    timeoutMs: 15_000,
  },
  DescribeRollout: {
    command: DescribeRollout,
    path: '/api/rollouts/{rolloutId}/progress',
    role: 'viewer',
    status: 200,
    timeoutMs: 15_000,
    description: 'A rollout: running, paused (and why), aborted or completed; per wave and per device with reasons.',
  },
} as const satisfies Record<string, CommandRoute>;
