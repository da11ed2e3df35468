/** Scheduled daily: removes data past its retention period. */
import { runPurge } from '../workers/purge.js';
import { awsDeps } from './shared.js';

const deps = awsDeps();

export const handler = () => runPurge(deps);
