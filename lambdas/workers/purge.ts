/**
 * The daily purge: data past its retention period: raw IP addresses in the login history
 * (default 90 days), expired SSO state, and tasks and attachments deleted more than 30
 * days ago (with their stories and blobs).
 */
import { purgeLoginIps } from '../domain/auth/sessions.js';
import type { AppDeps } from '../domain/deps.js';
import { logger } from '../shared/logger.js';
import { purgeOidcRequests } from '../domain/auth/oidc.js';
import { purgeSamlState } from '../domain/auth/saml.js';
import { purgeDeletedWork } from '../domain/work/retention.js';

export interface PurgeResult {
  loginIpsCleared: number;
  oidcRequestsDeleted: number;
  samlRequestsDeleted: number;
  samlAssertionsDeleted: number;
  tasksPurged: number;
  attachmentsPurged: number;
  blobsDeleted: number;
}

export async function runPurge(deps: Pick<AppDeps, 'database' | 'clock' | 'config' | 'blobs'>): Promise<PurgeResult> {
  const loginIpsCleared = await purgeLoginIps(deps.database.db, deps.clock.now(), deps.config.auth.ipRetentionDays);
  const oidcRequestsDeleted = await purgeOidcRequests(deps);
  const saml = await purgeSamlState(deps.database.db, deps.clock.now());
  const work = await purgeDeletedWork(deps);
  const result = { loginIpsCleared, oidcRequestsDeleted, samlRequestsDeleted: saml.requests, samlAssertionsDeleted: saml.assertions, tasksPurged: work.tasks, attachmentsPurged: work.attachments, blobsDeleted: work.blobsDeleted };
  logger.info('purge finished', result);
  return result;
}
