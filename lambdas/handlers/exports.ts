/**
 * The exports function: the synchronous exports (project, My tasks, saved searches) and
 * the export job routes (request, status, download; lambdas/http/route-groups.ts),
 * behind API Gateway (REST, proxy integration). Sized for building large documents.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { createApiHandler } from '../http/api.js';
import { deployedRoutes } from '../http/route.js';
import { EXPORTS_GROUP } from '../http/group-exports.js';
import { awsDeps } from './shared.js';

const handle = createApiHandler(awsDeps(), deployedRoutes(EXPORTS_GROUP));

export const handler = (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> => handle(event, context);
