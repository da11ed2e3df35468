import { Logger } from '@aws-lambda-powertools/logger';

/**
 * Names of attributes whose values never reach a log line, wherever they sit in a
 * logged object (matched case-insensitively against the key).
 */
const SECRET_KEY = /pass(word)?|secret|token|authorization|cookie|session_?id|signature|^sig$|api[-_]?key|credential/i;
export const REDACTED = '[redacted]';

const SECRET_NAME = String.raw`[\w-]*(?:pass(?:word|wd)?|secret|token|sig(?:nature)?|api[-_]?key|session(?:[-_]?id)?|credentials?)`;
const NAME_EQUALS_VALUE = new RegExp(String.raw`\b(${SECRET_NAME})=([^&;\s"',]+)`, 'gi');
const QUOTED_NAME_VALUE = new RegExp(String.raw`("${SECRET_NAME}"\s*:\s*)"(?:[^"\\]|\\.)*"`, 'gi');
/** Database error fields that carry bound values or row contents (PGlite: params; PostgreSQL: detail). */
const VALUE_KEY = /^(params|parameters|detail)$/i;

/** Masks credentials and row contents embedded in free text (error messages, echoed headers). */
export function redactText(text: string): string {
  return text
    .replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, `$1 ${REDACTED}`)
    .replace(NAME_EQUALS_VALUE, `$1=${REDACTED}`)
    .replace(QUOTED_NAME_VALUE, `$1"${REDACTED}"`)
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]+):[^\s@/]+@/gi, `$1:${REDACTED}@`)
    .replace(/(Failing row contains )\(.*\)/g, `$1(${REDACTED})`)
    .replace(/(\bKey \((?:[^()]|\([^()]*\))*\)=)\(.*?\)(?=\s+(?:already exists|is not present|is still referenced|conflicts with))/g, `$1(${REDACTED})`);
}

/**
 * JSON replacer applied by the logger to every value it serializes: the one place
 * where log redaction happens.
 */
export function redactingReplacer(key: string, value: unknown): unknown {
  if (key !== '' && (SECRET_KEY.test(key) || VALUE_KEY.test(key)) && value !== null && value !== undefined) return REDACTED;
  if (typeof value === 'string') return redactText(value);
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/** The process-wide structured JSON logger (Powertools), created once at module scope. */
export const logger = new Logger({
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'asana-privacy-backend',
  jsonReplacerFn: redactingReplacer,
});
