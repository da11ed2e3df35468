/** zod building blocks shared by the route schemas (also feed the OpenAPI document). */
import { z } from 'zod';

export const gid = z.string().regex(/^\d{1,19}$/, 'must be a gid (a string of digits)').meta({ description: 'Globally unique identifier of the resource, as a string.', example: '1204567890123456' });

export const optFields = z
  .string()
  .max(2000)
  .regex(/^[a-z_][a-z0-9_.]*(,[a-z_][a-z0-9_.]*)*$/, 'must be a comma-separated list of field names')
  .optional()
  .meta({ description: 'Properties to include in addition to the compact representation (comma-separated, dotted for nested objects).' });

export const optPretty = z.enum(['true', 'false', '']).optional().meta({ description: 'Pretty-print the JSON answer.' });

/** Query parameters every route accepts. */
export const commonQuery = { opt_fields: optFields, opt_pretty: optPretty };

/** Query parameters every list accepts (Asana: limit 1-100, offset from next_page). */
export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(100).optional().meta({ description: 'Results per page (1-100).' }),
  offset: z.string().max(2048).optional().meta({ description: 'Offset token returned in next_page of a previous answer.' }),
};

export const nextPage = z
  .object({ offset: z.string(), path: z.string(), uri: z.string() })
  .nullable()
  .meta({ id: 'NextPage', description: 'Where the next page starts, or null on the last page.' });

export const errorBody = z
  .object({
    errors: z.array(z.object({ message: z.string(), help: z.string().optional(), request_id: z.string().optional() })),
  })
  .meta({ id: 'ErrorResponse' });

/** The compact form every resource has. */
export const compact = (resourceType: string) => ({ gid, resource_type: z.literal(resourceType) });

/**
 * The most a long text (notes, comments, descriptions, messages, status updates) may
 * weigh, written as a JSON string in UTF-8 (quotes, backslashes and control characters
 * counted escaped). Aurora's Data API returns rows of at most 64 KB: with the other
 * columns read in the same row (names of up to 1,024 characters, the parent's, the
 * assignee's...) a text of 40 KiB always fits, so anything accepted can be read back.
 */
export const LONG_TEXT_BYTES = 40 * 1024;

/** A long text: Asana's limit in characters, and LONG_TEXT_BYTES (see above). */
export function longText(maxChars = 65_536, minChars = 0) {
  return z
    .string()
    .min(minChars)
    .max(maxChars)
    .refine((text) => Buffer.byteLength(JSON.stringify(text)) - 2 <= LONG_TEXT_BYTES, `must be at most ${LONG_TEXT_BYTES} bytes in UTF-8 (quotes, backslashes and control characters count escaped)`)
    .meta({ description: `At most ${maxChars} characters and ${LONG_TEXT_BYTES} bytes in UTF-8, counting JSON escapes.` });
}
