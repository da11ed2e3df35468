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
