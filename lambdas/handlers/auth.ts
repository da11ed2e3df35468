/**
 * The auth function: the identity routes (sign-up, login, logout, password reset and
 * change, invitation acceptance, "not me" links, SSO logins, the caller's sessions and
 * login history; lambdas/http/route-groups.ts), behind API Gateway (REST, proxy
 * integration). Sized for password hashing; no access to the export bucket.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { createApiHandler } from '../http/api.js';
import { deployedRoutes } from '../http/route.js';
import { AUTH_GROUP } from '../http/group-auth.js';
import { awsDeps } from './shared.js';

const handle = createApiHandler(awsDeps(), deployedRoutes(AUTH_GROUP));

export const handler = (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> => handle(event, context);
