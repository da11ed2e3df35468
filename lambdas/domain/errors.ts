/**
 * The failures use cases report. Each names the HTTP status it maps to; the mapping
 * itself (with bodies and logging) is lambdas/http/errors.ts.
 */
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
/** A feature the organization's plan does not include. */
export class PaymentRequiredError extends HttpError {
  constructor(message: string) {
    super(402, message);
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
  constructor(message = 'Request body must be JSON (Content-Type: application/json)') {
    super(415, message);
  }
}
export class TooManyRequestsError extends HttpError {
  constructor(retryAfterSeconds: number, message = 'Too many requests; try again later') {
    super(429, message, undefined, { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) });
  }
}

