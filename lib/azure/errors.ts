/**
 * `ArmError`, the one error type of the ARM adapter, with its reasons and their error codes. SDK-free (arm.ts, which
 * loads the ARM SDKs, re-exports it): resource id parsing (resource-id.ts) throws it, and settings validation
 * (lib/config) parses ids without loading an SDK.
 */
import { SnatResponderError } from '../errors.js';
import type { ErrorCode } from '../errors.js';

export type ArmErrorReason =
  /** A value we were given is not acceptable (not a resource id, not an IP literal, a bad window). */
  | 'invalid'
  /** Client setup: endpoint, CA, credential, a kubeconfig that cannot be used. */
  | 'config'
  | 'not-found'
  | 'ambiguous'
  | 'unauthorized'
  | 'forbidden'
  | 'throttled'
  | 'server'
  | 'timeout'
  | 'network'
  | 'unexpected';

const CODE_OF_REASON: Record<ArmErrorReason, ErrorCode> = {
  invalid: 'BAD_INPUT',
  config: 'ENVIRONMENT',
  'not-found': 'BAD_INPUT',
  ambiguous: 'BAD_INPUT',
  unauthorized: 'ENVIRONMENT',
  forbidden: 'ENVIRONMENT',
  throttled: 'ENVIRONMENT',
  server: 'ENVIRONMENT',
  timeout: 'ENVIRONMENT',
  network: 'ENVIRONMENT',
  unexpected: 'ENVIRONMENT',
};

export class ArmError extends SnatResponderError {
  readonly reason: ArmErrorReason;
  readonly status: number | null;
  /** ARM's `error.code` (`ResourceNotFound`, `AuthorizationFailed`, ...) when the answer carried one. */
  readonly armCode: string | null;
  readonly operation: string | null;
  readonly retryAfterMs: number | null;

  constructor(
    reason: ArmErrorReason,
    message: string,
    details: {
      status?: number | null;
      armCode?: string | null;
      operation?: string | null;
      retryAfterMs?: number | null;
      cause?: unknown;
    } = {},
  ) {
    super(CODE_OF_REASON[reason], message, { cause: details.cause });
    this.name = 'ArmError';
    this.reason = reason;
    this.status = details.status ?? null;
    this.armCode = details.armCode ?? null;
    this.operation = details.operation ?? null;
    this.retryAfterMs = details.retryAfterMs ?? null;
  }
}

export function isArmError(e: unknown, reason?: ArmErrorReason): e is ArmError {
  return e instanceof ArmError && (reason === undefined || e.reason === reason);
}
