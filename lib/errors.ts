/**
 * Typed errors with a code, classified once. The CLI maps codes to exit statuses: usage 2, bad input 3,
 * environment (cluster, storage unreachable) 4.
 */
export type ErrorCode = 'USAGE' | 'BAD_INPUT' | 'ENVIRONMENT';

export class SnatResponderError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SnatResponderError';
  }
}

export const usageError = (message: string): SnatResponderError => new SnatResponderError('USAGE', message);
export const badInput = (message: string): SnatResponderError => new SnatResponderError('BAD_INPUT', message);
export const environmentError = (message: string, cause?: unknown): SnatResponderError =>
  new SnatResponderError('ENVIRONMENT', message, { cause });

export function isSnatResponderError(e: unknown): e is SnatResponderError {
  return e instanceof SnatResponderError;
}

export const EXIT = { ok: 0, failure: 1, usage: 2, badInput: 3, environment: 4 } as const;

export function exitCodeOf(e: unknown): number {
  if (!isSnatResponderError(e)) return EXIT.failure;
  switch (e.code) {
    case 'USAGE':
      return EXIT.usage;
    case 'BAD_INPUT':
      return EXIT.badInput;
    case 'ENVIRONMENT':
      return EXIT.environment;
  }
}
