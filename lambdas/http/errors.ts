/**
 * Errors the API answers with, and the one mapping from any thrown value to a status
 * and an Asana-style body: {"errors":[{"message": ..., "help"?: ...}]}.
 */
import { InvalidCursorError, isUniqueViolation } from '../db/query.js';

export interface ErrorEntry {
  message: string;
  help?: string;
  /** Only on 500s: quote it to the operator, who finds the details in the logs. */
  request_id?: string;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly entries: ErrorEntry[] = [{ message }],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export class BadRequestError extends HttpError {
  constructor(message: string, entries?: ErrorEntry[]) {
    super(400, message, entries ?? [{ message }]);
  }
}
export class UnauthorizedError extends HttpError {
  constructor(message = 'Not Authorized') {
    super(401, message, [{ message }], { 'WWW-Authenticate': 'Bearer' });
  }
}
export class ForbiddenError extends HttpError {
  constructor(message = 'Forbidden') {
    super(403, message);
  }
}
/** Also the answer for objects the caller may not know exist. */
export class NotFoundError extends HttpError {
  constructor(message = 'Not Found') {
    super(404, message);
  }
}
export class MethodNotAllowedError extends HttpError {
  constructor(allowed: string[]) {
    super(405, 'Method Not Allowed', undefined, { Allow: allowed.join(', ') });
  }
}
export class ConflictError extends HttpError {
  constructor(message: string) {
    super(409, message);
  }
}
export class GoneError extends HttpError {
  constructor(message = 'Gone') {
    super(410, message);
  }
}
export class PayloadTooLargeError extends HttpError {
  constructor(limitBytes: number) {
    super(413, `Request body is larger than ${limitBytes} bytes`);
  }
}
export class UnsupportedMediaTypeError extends HttpError {
  constructor() {
    super(415, 'Request body must be JSON (Content-Type: application/json)');
  }
}
export class TooManyRequestsError extends HttpError {
  constructor(retryAfterSeconds: number, message = 'Too many requests; try again later') {
    super(429, message, undefined, { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) });
  }
}

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
