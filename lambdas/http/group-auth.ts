/**
 * The routes the auth function serves (the 'auth' group of route-groups.ts), in route
 * table order. lambdas/handlers/auth.ts imports this module alone: the function bundles
 * the identity routes' code, not the work graph's or the exports'.
 */
import type { RouteDef } from './route.js';
import { authRoutes } from './routes/auth.js';
import { listLoginsRoute, listSessionsRoute, revokeSessionRoute } from './routes/me.js';
import { oidcRoutes } from './routes/sso-oidc.js';
import { samlRoutes } from './routes/sso-saml.js';

export const AUTH_GROUP: readonly RouteDef[] = [...authRoutes, listSessionsRoute, revokeSessionRoute, listLoginsRoute, ...oidcRoutes, ...samlRoutes];
