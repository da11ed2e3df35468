/**
 * The deployed API function end to end on its AWS wiring: module-scope clients, env read
 * at cold start, Aurora reached through the Data API (answered by the stand-in).
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { RDSDataClient } from '@aws-sdk/client-rds-data';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { logger } from '../../lambdas/shared/logger.js';
import { requireEnv, intEnv } from '../../lambdas/shared/env.js';
import { openEngine, type TestEngine } from '../support/engines.js';

let engine: TestEngine;
const ENV = {
  DB_CLUSTER_ARN: 'arn:aws:rds:eu-west-1:123456789012:cluster:app',
  DB_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app',
  EXPORT_BUCKET: 'exports-bucket',
  EXPORT_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/exports',
  MAIL_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/mail',
  MAIL_FROM: 'no-reply@example.com',
  APP_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-master',
  AWS_REGION: 'eu-west-1',
};

beforeAll(async () => {
  logger.setLogLevel('SILENT');
  Object.assign(process.env, ENV);
  engine = await openEngine('data-api');
});
afterAll(async () => {
  await engine?.close();
});

function event(path: string): APIGatewayProxyEvent {
  return {
    resource: '/{proxy+}',
    path,
    httpMethod: 'GET',
    headers: { Host: 'abc123.execute-api.eu-west-1.amazonaws.com' },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body: null,
    isBase64Encoded: false,
    requestContext: { requestId: 'req-123', stage: 'prod', domainName: 'abc123.execute-api.eu-west-1.amazonaws.com', identity: { sourceIp: '203.0.113.9' } } as APIGatewayProxyEvent['requestContext'],
  };
}

test('the API handler answers health through the Data API and links to its own stage URL', async () => {
  const calls = engine.standIn!.answer(RDSDataClient);
  const { handler } = await import('../../lambdas/handlers/api.js');
  const health = await handler(event('/api/1.0/health'), { awsRequestId: 'lambda-1' } as Context);
  expect(health.statusCode).toBe(200);
  expect(JSON.parse(health.body)).toEqual({ data: { status: 'ok', database: 'data-api' } });
  expect(health.headers?.['X-Request-Id']).toBe('req-123');
  // The Data API was called with the configured cluster and secret.
  const input = calls.calls()[0]!.args[0].input as { resourceArn: string; secretArn: string; database: string };
  expect(input).toMatchObject({ resourceArn: ENV.DB_CLUSTER_ARN, secretArn: ENV.DB_SECRET_ARN, database: 'app' });

  const doc = await handler(event('/api/1.0/openapi.json'), {} as Context);
  expect((JSON.parse(doc.body) as { servers: { url: string }[] }).servers).toEqual([{ url: 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod/api/1.0' }]);

  // Local-only helpers do not exist behind API Gateway.
  expect((await handler(event('/_local/outbox'), {} as Context)).statusCode).toBe(404);
  calls.restore();
});

test('missing or malformed configuration fails fast and names the variable', () => {
  delete process.env.SOME_MISSING_VAR;
  expect(() => requireEnv('SOME_MISSING_VAR')).toThrow('Missing required environment variable SOME_MISSING_VAR');
  process.env.BAD_INT = '12abc';
  expect(() => intEnv('BAD_INT', 1)).toThrow(/BAD_INT must be a non-negative integer/);
});
