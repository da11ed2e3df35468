/**
 * lib/functions.ts is the one place a function is added: with a table that also holds
 * the entries still to come (export worker, Lambda authorizer), the stateless stack wires
 * each from its entry alone, and the app still passes every check. Synthesized once.
 */
import { beforeAll, describe, expect, test } from '@jest/globals';
import { App, Stack, type CfnResource } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { apiRoutes } from '../../lambdas/http/route-table.js';
import { buildStacks } from '../../lib/app.js';
import { WORKER_TIMEOUT_SECONDS, loadConfig } from '../../lib/config.js';
import { ENV } from '../../lib/constructs/app-function.js';
import { FUNCTIONS, type FunctionSpec } from '../../lib/functions.js';
import { cdkJson, synthApp, type SynthesizedApp } from './support.js';

/** Handler files that exist (bundling is skipped; the entry file only has to exist). */
const table: Record<string, FunctionSpec> = {
  ...FUNCTIONS,
  exportWorker: {
    entry: 'lambdas/handlers/api.ts',
    description: 'test: export worker',
    memoryMb: 1024,
    timeoutSeconds: WORKER_TIMEOUT_SECONDS.exports,
    invoke: { kind: 'queue', queue: 'exports', batchSize: 1 },
    awsDeps: true,
    uses: { database: true, exportBucket: 'read-write', sendsTo: ['mail'] },
  },
  authorizer: {
    entry: 'lambdas/handlers/authorizer.ts',
    description: 'test: Lambda authorizer',
    memoryMb: 512,
    timeoutSeconds: 10,
    invoke: { kind: 'authorizer' },
    awsDeps: true,
    uses: { database: true },
  },
};

let s: SynthesizedApp;
let t: Template;
beforeAll(() => {
  s = synthApp({ build: { stateless: { functions: table } } });
  t = s.templates.stateless;
}, 180_000);

const id = (resource: { node: { defaultChild?: unknown } }) => {
  const cfn = resource.node.defaultChild as CfnResource;
  return Stack.of(cfn).getLogicalId(cfn);
};

describe('a function is one entry in lib/functions.ts', () => {
  test('a queue worker: event source with partial batch failures, read-write on exports/, an error alarm, and the app still passes the checks', () => {
    const worker = s.stacks.stateless.functions.exportWorker!;
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', { FunctionName: { Ref: id(worker.fn) }, BatchSize: 1, FunctionResponseTypes: ['ReportBatchItemFailures'] });
    t.hasResourceProperties('AWS::Lambda::Function', { Timeout: WORKER_TIMEOUT_SECONDS.exports, Environment: { Variables: Match.objectLike({ [ENV.exportBucket]: Match.anyValue() }) } });
    t.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: id(worker.role) }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: ['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:PutObject'] }),
          Match.objectLike({ Action: Match.arrayWith(['sqs:DeleteMessage', 'sqs:ReceiveMessage']) }),
        ]),
      },
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Errors', Dimensions: [{ Name: 'FunctionName', Value: { Ref: id(worker.fn) } }] });
    for (const report of s.report.pluginReports) expect(report.violations).toEqual([]);
  });

  test('the authorizer: on every route that needs a caller, uncached and without identity sources (cookie-only GETs reach it)', () => {
    const authorizer = s.stacks.stateless.api.authorizer!;
    expect(authorizer).toBeDefined();
    const resource = t.findResources('AWS::ApiGateway::Authorizer')[id(authorizer)]!;
    expect(resource.Properties).toMatchObject({ Type: 'REQUEST', AuthorizerResultTtlInSeconds: 0 });
    expect(resource.Properties.IdentitySource ?? '').toBe('');
    for (const route of apiRoutes()) {
      t.hasResourceProperties('AWS::ApiGateway::Method', {
        OperationName: route.operationId,
        AuthorizationType: route.auth === 'none' ? 'NONE' : 'CUSTOM',
        ...(route.auth === 'none' ? {} : { AuthorizerId: { Ref: id(authorizer) } }),
      });
    }
    expect(apiRoutes().some((r) => r.auth !== 'none')).toBe(true);
  });
});

describe('the table is checked', () => {
  const build = (functions: Record<string, FunctionSpec>) => {
    const app = new App({ context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [] } });
    buildStacks(app, loadConfig((key) => app.node.tryGetContext(key)), { stateless: { functions } });
  };

  test('a worker slower than its queue allows is refused', () => {
    const slow = { ...table.exportWorker!, timeoutSeconds: WORKER_TIMEOUT_SECONDS.exports + 1 };
    expect(() => build({ ...FUNCTIONS, exportWorker: slow })).toThrow(/visibility timeout is sized for 300 s/);
  });

  test('exactly one API function', () => {
    const { api: _api, ...withoutApi } = FUNCTIONS;
    expect(() => build(withoutApi)).toThrow(/No function has invoke.kind 'api'/);
    expect(() => build({ ...FUNCTIONS, api2: FUNCTIONS.api })).toThrow(/Two functions serve the API/);
  });
});
