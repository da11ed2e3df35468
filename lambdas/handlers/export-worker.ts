/** The export worker function: SQS exports queue -> export files in S3 and emails, with partial batch failures. */
import type { Context, SQSEvent } from 'aws-lambda';
import { createExportWorker } from '../workers/exports.js';
import { awsDeps } from './shared.js';

const work = createExportWorker(awsDeps());

export const handler = (event: SQSEvent, context: Context) => work(event, context);
