/** Scheduled every minute: re-enqueues due outbox mail whose first delivery attempt did not happen or failed. */
import { relayDueMail } from '../workers/mail.js';
import { awsDeps } from './shared.js';

const deps = awsDeps();

export const handler = async (): Promise<{ enqueued: number }> => ({ enqueued: await relayDueMail(deps) });
