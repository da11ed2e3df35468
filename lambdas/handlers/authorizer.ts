/**
 * The API Gateway Lambda authorizer (REQUEST type) for routes that need a caller. It
 * uses the same token check as the API itself (bearer token, or the session cookie on
 * GET). It is attached without identity sources and without caching, so that requests
 * carrying only a cookie (permalinks opened in a browser tab) still reach it: a cached
 * REQUEST authorizer would answer 401 on its own when an identity source is missing.
 */
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { authenticate } from '../domain/auth/sessions.js';
import type { AppDeps } from '../domain/deps.js';
import { requestToken } from '../http/api.js';
import { awsDeps } from './shared.js';

export function createAuthorizer(deps: Pick<AppDeps, 'database' | 'clock' | 'config'>) {
  return async (event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> => {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(event.headers ?? {})) if (v !== undefined) headers[k.toLowerCase()] = v;
    const token = requestToken(headers, event.httpMethod.toUpperCase());
    const principal = token ? await authenticate(deps, token) : null;
    // API Gateway turns this exact message into a 401.
    if (!principal) throw new Error('Unauthorized');
    const principalId = principal.kind === 'user' ? principal.user.gid : principal.gid;
    return {
      principalId,
      policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: event.methodArn }] },
      context: { principal_kind: principal.kind, principal_gid: principalId },
    };
  };
}

let authorize: ReturnType<typeof createAuthorizer> | undefined;

export const handler = (event: APIGatewayRequestAuthorizerEvent) => (authorize ??= createAuthorizer(awsDeps()))(event);
