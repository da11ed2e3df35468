/**
 * The API function: every deployed route that neither the auth nor the exports function
 * serves (lambdas/http/route-groups.ts), behind API Gateway (REST, proxy integration).
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { createApiHandler } from '../http/api.js';
import { routesFor } from '../http/route-groups.js';
import { apiRoutes } from '../http/route-table.js';
import { awsDeps } from './shared.js';

const handle = createApiHandler(awsDeps(), routesFor('api', apiRoutes()));

export const handler = (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> => handle(event, context);
