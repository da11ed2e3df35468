/**
 * The daily purge: data past its retention period: raw IP addresses in the login history
 * and the audit log (default 90 days), expired SSO state, tasks and attachments deleted
 * more than 30 days ago (with their stories and blobs), and the files of expired or
 * failed exports.
 */
import { purgeLoginIps } from '../domain/auth/sessions.js';
import type { AppDeps } from '../domain/deps.js';
import { logger } from '../shared/logger.js';
import { purgeOidcRequests } from '../domain/auth/oidc.js';
import { purgeSamlState } from '../domain/auth/saml.js';
import { purgeDeletedWork } from '../domain/work/retention.js';
import { purgeAuditIps } from '../domain/audit.js';
import { purgeExpiredExports } from '../domain/exports/jobs.js';

export interface PurgeResult {
  loginIpsCleared: number;
  oidcRequestsDeleted: number;
  samlRequestsDeleted: number;
  samlAssertionsDeleted: number;
  tasksPurged: number;
  attachmentsPurged: number;
  blobsDeleted: number;
  auditIpsCleared: number;
  exportFilesDeleted: number;
}

export async function runPurge(deps: Pick<AppDeps, 'database' | 'clock' | 'config' | 'blobs'>): Promise<PurgeResult> {
  const loginIpsCleared = await purgeLoginIps(deps.database.db, deps.clock.now(), deps.config.auth.ipRetentionDays);
  const oidcRequestsDeleted = await purgeOidcRequests(deps);
  const saml = await purgeSamlState(deps.database.db, deps.clock.now());
  const work = await purgeDeletedWork(deps);
  const auditIpsCleared = await purgeAuditIps(deps.database.db, deps.clock.now(), deps.config.auth.ipRetentionDays);
  const exportFilesDeleted = await purgeExpiredExports(deps);
  const result = {
    loginIpsCleared,
    oidcRequestsDeleted,
    samlRequestsDeleted: saml.requests,
    samlAssertionsDeleted: saml.assertions,
    tasksPurged: work.tasks,
    attachmentsPurged: work.attachments,
    blobsDeleted: work.blobsDeleted,
    auditIpsCleared,
    exportFilesDeleted,
  };
  logger.info('purge finished', result);
  return result;
}
