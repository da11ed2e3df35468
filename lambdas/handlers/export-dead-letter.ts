/** Consumes the exports dead-letter queue: each job there ends in state error, and its requester is emailed. */
import type { Context, SQSEvent } from 'aws-lambda';
import { createExportDeadLetterHandler } from '../workers/exports.js';
import { awsDeps } from './shared.js';

const work = createExportDeadLetterHandler(awsDeps());

export const handler = (event: SQSEvent, context: Context) => work(event, context);
