/**
 * The migrate function: applies lambdas/db/migrations (bundled next to this file) to
 * Aurora over the Data API. A CDK trigger invokes it during deployment; a failure fails
 * the deployment. It is idempotent, so running it again is always safe.
 */
import { RDSData } from '@aws-sdk/client-rds-data';
import { dataApiDatabase } from '../db/database.js';
import { loadMigrations, migrate, type MigrationResult } from '../db/migrator.js';
import { intEnv, optionalEnv, requireEnv } from '../shared/env.js';
import { logger } from '../shared/logger.js';

const env = {
  get dbClusterArn() {
    return requireEnv('DB_CLUSTER_ARN');
  },
  get dbSecretArn() {
    return requireEnv('DB_SECRET_ARN');
  },
  get dbName() {
    return optionalEnv('DB_NAME', 'app');
  },
  /** Wait between attempts while a paused cluster resumes (tests shorten it). */
  get resumeRetryDelayMs() {
    return intEnv('MIGRATE_RESUME_RETRY_DELAY_MS', 5000);
  },
};

const RESUME_ATTEMPTS = 6;

const rdsData = new RDSData({});

/** A cluster scaled to 0 ACUs answers DatabaseResumingException until it is back. */
const isResuming = (error: unknown) => error instanceof Error && error.name === 'DatabaseResumingException';

export async function handler(): Promise<MigrationResult> {
  const migrations = await loadMigrations();
  for (let attempt = 1; ; attempt++) {
    const database = dataApiDatabase({ client: rdsData, resourceArn: env.dbClusterArn, secretArn: env.dbSecretArn, database: env.dbName });
    try {
      const result = await migrate(database.db, migrations);
      logger.info('migrations done', { applied: result.applied, alreadyApplied: result.alreadyApplied.length });
      return result;
    } catch (error) {
      if (!isResuming(error) || attempt >= RESUME_ATTEMPTS) {
        logger.error('migrations failed', { error });
        throw error;
      }
      logger.info('database is resuming; retrying', { attempt });
      await new Promise((resolve) => setTimeout(resolve, env.resumeRetryDelayMs * attempt));
    } finally {
      await database.close();
    }
  }
}
