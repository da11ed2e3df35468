import { Logger } from '@aws-lambda-powertools/logger';

/**
 * Names of attributes whose values never reach a log line, wherever they sit in a
 * logged object (matched case-insensitively against the key).
 */
const SECRET_KEY = /pass(word)?|secret|token|authorization|cookie|session_?id|signature|^sig$|api[-_]?key|credential/i;
export const REDACTED = '[redacted]';

/** Masks credentials embedded in free text (e.g. a header echoed in an error message). */
export function redactText(text: string): string {
  return text
    .replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, `$1 ${REDACTED}`)
    .replace(/\b(sig|signature|token|password)=([^&\s"]+)/gi, `$1=${REDACTED}`);
}

/**
 * JSON replacer applied by the logger to every value it serializes: the one place
 * where log redaction happens.
 */
export function redactingReplacer(key: string, value: unknown): unknown {
  if (key !== '' && SECRET_KEY.test(key) && value !== null && value !== undefined) return REDACTED;
  if (typeof value === 'string') return redactText(value);
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/** The process-wide structured JSON logger (Powertools), created once at module scope. */
export const logger = new Logger({
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'asana-privacy-backend',
  jsonReplacerFn: redactingReplacer,
});
