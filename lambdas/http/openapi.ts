/**
 * The OpenAPI 3.1 document, generated from the route table's zod schemas (the same
 * ones that validate requests), served at GET /api/1.0/openapi.json.
 */
import { z } from 'zod';
import { queryShape, type RouteDef } from './route.js';
import { errorBody, nextPage } from './schemas.js';

type JsonSchema = Record<string, unknown>;

/** { "data": <schema> } */
export const dataBody = <T extends z.ZodType>(schema: T) => z.object({ data: schema });
/** { "data": [<schema>], "next_page": {...} | null } */
export const listBody = <T extends z.ZodType>(schema: T) => z.object({ data: z.array(schema), next_page: nextPage });

class SchemaCollector {
  readonly components: Record<string, JsonSchema> = {};

  convert(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
    const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any', reused: 'inline' }) as JsonSchema;
    delete json.$schema;
    const defs = (json.$defs ?? {}) as Record<string, JsonSchema>;
    delete json.$defs;
    for (const [id, def] of Object.entries(defs)) this.components[id] ??= this.rewriteRefs(def);
    const root = this.rewriteRefs(json);
    // A schema with its own id becomes a component and is referenced.
    if (typeof root.id === 'string') {
      const { id, ...rest } = root;
      this.components[id as string] ??= rest;
      return { $ref: `#/components/schemas/${id as string}` };
    }
    return root;
  }

  private rewriteRefs(value: JsonSchema): JsonSchema {
    return JSON.parse(JSON.stringify(value).replaceAll('"#/$defs/', '"#/components/schemas/')) as JsonSchema;
  }
}

function parameters(collector: SchemaCollector, location: 'path' | 'query', shape: Record<string, z.ZodType>): JsonSchema[] {
  return Object.entries(shape).map(([name, schema]) => {
    const json = collector.convert(schema, 'input');
    const { description, ...rest } = json;
    return {
      name,
      in: location,
      required: location === 'path' || !schema.safeParse(undefined).success,
      ...(description ? { description } : {}),
      schema: rest,
    };
  });
}

export interface OpenApiInfo {
  title: string;
  version: string;
  description: string;
  serverUrl: string;
}

export function buildOpenApi(routes: RouteDef[], info: OpenApiInfo): JsonSchema {
  const collector = new SchemaCollector();
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of routes.filter((r) => r.scope === 'api')) {
    const query = queryShape(route);
    const operation: JsonSchema = {
      operationId: route.operationId,
      summary: route.summary,
      ...(route.description ? { description: route.description } : {}),
      tags: route.tags,
      parameters: [...parameters(collector, 'path', route.request.params?.shape ?? {}), ...parameters(collector, 'query', query)],
      responses: {
        ...Object.fromEntries(
          Object.entries(route.responses).map(([status, doc]) => [
            status,
            {
              description: doc.description,
              ...(doc.schema ? { content: { [doc.contentType ?? 'application/json']: { schema: collector.convert(doc.schema, 'output') } } } : {}),
            },
          ]),
        ),
        '4XX': { description: 'The request was not valid, not authorized or not possible.', content: { 'application/json': { schema: collector.convert(errorBody, 'output') } } },
        '5XX': { description: 'Server error; the body carries a request id.', content: { 'application/json': { schema: collector.convert(errorBody, 'output') } } },
      },
      ...(route.auth === 'none' ? { security: [] } : {}),
    };
    if (route.request.body) {
      operation.requestBody =
        route.bodyFormat === 'form'
          ? { required: true, content: { 'application/x-www-form-urlencoded': { schema: collector.convert(route.request.body, 'input') } } }
          : route.bodyFormat === 'multipart'
            ? { required: true, content: { 'multipart/form-data': { schema: route.request.form ? collector.convert(route.request.form, 'input') : { type: 'object' } } } }
            : { required: true, content: { 'application/json': { schema: collector.convert(dataBody(route.request.body), 'input') } } };
    }
    const key = route.path;
    paths[key] = { ...paths[key], [route.method.toLowerCase()]: operation };
  }
  return {
    openapi: '3.1.0',
    info: { title: info.title, version: info.version, description: info.description },
    servers: [{ url: info.serverUrl }],
    paths,
    components: {
      schemas: collector.components,
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'A session or service-account token.' },
        sessionCookie: { type: 'apiKey', in: 'cookie', name: 'session', description: 'Accepted for GET requests only.' },
      },
    },
    security: [{ bearerAuth: [] }],
  };
}
