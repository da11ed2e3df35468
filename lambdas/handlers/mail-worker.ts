/** The mail worker function: SQS mail queue -> SES, with partial batch failures. */
import type { Context, SQSEvent } from 'aws-lambda';
import { createMailWorker } from '../workers/mail.js';
import { awsDeps } from './shared.js';

const work = createMailWorker(awsDeps());

export const handler = (event: SQSEvent, context: Context) => work(event, context);
