/**
 * Scheduled every minute: re-enqueues due outbox mail whose first delivery attempt did not
 * happen or failed, and restarts export jobs whose queue message was lost.
 */
import { relayStalledExports } from '../domain/exports/jobs.js';
import { relayDueMail } from '../workers/mail.js';
import { awsDeps } from './shared.js';

const deps = awsDeps();

export const handler = async (): Promise<{ enqueued: number; exportsRestarted: number }> => ({ enqueued: await relayDueMail(deps), exportsRestarted: await relayStalledExports(deps) });
