/** The API function: every route of the route table behind API Gateway (REST, proxy integration). */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { createApiHandler } from '../http/api.js';
import { apiRoutes } from '../http/route-table.js';
import { awsDeps } from './shared.js';

const handle = createApiHandler(awsDeps(), apiRoutes());

export const handler = (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> => handle(event, context);
