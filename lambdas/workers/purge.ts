/**
 * The daily purge: data past its retention period. Today: raw IP addresses in the login
 * history (default 90 days). Deleted tasks join it with the work-graph.
 */
import { purgeLoginIps } from '../domain/auth/sessions.js';
import type { AppDeps } from '../domain/deps.js';
import { logger } from '../shared/logger.js';
import { purgeOidcRequests } from '../domain/auth/oidc.js';
import { purgeSamlState } from '../domain/auth/saml.js';

export interface PurgeResult {
  loginIpsCleared: number;
  oidcRequestsDeleted: number;
  samlRequestsDeleted: number;
  samlAssertionsDeleted: number;
}

export async function runPurge(deps: Pick<AppDeps, 'database' | 'clock' | 'config'>): Promise<PurgeResult> {
  const loginIpsCleared = await purgeLoginIps(deps.database.db, deps.clock.now(), deps.config.auth.ipRetentionDays);
  const oidcRequestsDeleted = await purgeOidcRequests(deps);
  const saml = await purgeSamlState(deps.database.db, deps.clock.now());
  const result = { loginIpsCleared, oidcRequestsDeleted, samlRequestsDeleted: saml.requests, samlAssertionsDeleted: saml.assertions };
  logger.info('purge finished', result);
  return result;
}
