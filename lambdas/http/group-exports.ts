/**
 * The routes the exports function serves (the 'exports' group of route-groups.ts), in
 * route table order. lambdas/handlers/exports.ts imports this module alone: the function
 * bundles the exports' code, not SSO's or the rest of the work graph's routes.
 */
import type { RouteDef } from './route.js';
import { exportJobRoutes } from './routes/export-jobs.js';
import { exportRoutes } from './routes/exports.js';

export const EXPORTS_GROUP: readonly RouteDef[] = [...exportRoutes, ...exportJobRoutes];
