/**
 * Errors the API answers with, and the one mapping from any thrown value to a status
 * and an Asana-style body: {"errors":[{"message": ..., "help"?: ...}]}.
 */
import { InvalidCursorError, isUniqueViolation } from '../db/query.js';

export * from '../domain/errors.js';
import { HttpError, type ErrorEntry } from '../domain/errors.js';

export interface MappedError {
  status: number;
  headers: Record<string, string>;
  body: { errors: ErrorEntry[] };
  /** True when the error is ours to fix (log it with its stack). */
  internal: boolean;
}

export function mapError(error: unknown, requestId: string): MappedError {
  if (error instanceof HttpError) return { status: error.status, headers: error.headers, body: { errors: error.entries }, internal: false };
  if (error instanceof InvalidCursorError) return { status: 400, headers: {}, body: { errors: [{ message: error.message }] }, internal: false };
  if (isUniqueViolation(error)) return { status: 409, headers: {}, body: { errors: [{ message: 'That conflicts with an existing object' }] }, internal: false };
  return {
    status: 500,
    headers: {},
    body: { errors: [{ message: 'Server Error', help: 'The server could not complete the request. Quote the request_id when reporting it.', request_id: requestId }] },
    internal: true,
  };
}
