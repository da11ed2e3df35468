/**
 * The daily purge: data past its retention period. Today: raw IP addresses in the login
 * history (default 90 days). Deleted tasks join it with the work-graph.
 */
import { purgeLoginIps } from '../domain/auth/sessions.js';
import type { AppDeps } from '../domain/deps.js';
import { logger } from '../shared/logger.js';

export interface PurgeResult {
  loginIpsCleared: number;
}

export async function runPurge(deps: Pick<AppDeps, 'database' | 'clock' | 'config'>): Promise<PurgeResult> {
  const loginIpsCleared = await purgeLoginIps(deps.database.db, deps.clock.now(), deps.config.auth.ipRetentionDays);
  logger.info('purge finished', { login_ips_cleared: loginIpsCleared });
  return { loginIpsCleared };
}
