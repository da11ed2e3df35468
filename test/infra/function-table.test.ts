/**
 * lib/functions.ts is the one place a function is added: with a table that also holds an
 * entry no deployed function has (a read-only user of exports/ on a schedule), the
 * stateless stack wires each from its entry alone, and the app still passes every check.
 * The table is checked: workers must fit their queue's visibility timeout, a dead-letter
 * consumer needs a dead-letter queue sized for it, and exactly one function serves each
 * route group (lambdas/http/route-groups.ts).
 * Synthesized once.
 */
import { beforeAll, describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack, type CfnResource } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { apiRoutes } from '../../lambdas/http/route-table.js';
import { buildStacks } from '../../lib/app.js';
import { DEAD_LETTER_WORKER_TIMEOUT_SECONDS, EXPORTS_PREFIX, WORKER_TIMEOUT_SECONDS, loadConfig } from '../../lib/config.js';
import { ENV, PROJECT_ROOT } from '../../lib/constructs/app-function.js';
import { FUNCTIONS, type FunctionSpec } from '../../lib/functions.js';
import { cdkJson, deployedMethods, synthApp, type SynthesizedApp } from './support.js';

/** Handler files that exist (bundling is skipped; the entry file only has to exist). */
const table: Record<string, FunctionSpec> = {
  ...FUNCTIONS,
  exportsReader: {
    entry: 'lambdas/handlers/outbox-relay.ts',
    description: 'test: reads exports on a schedule',
    memoryMb: 256,
    timeoutSeconds: 60,
    invoke: { kind: 'schedule', expression: 'rate(1 hour)' },
    uses: { exportBucket: { exports: 'read' } },
  },
};

let s: SynthesizedApp;
let t: Template;
beforeAll(() => {
  s = synthApp({ build: { stateless: { functions: table } } });
  t = s.templates.stateless;
}, 180_000);

const id = (resource: { node: { defaultChild?: unknown } }) => {
  const cfn = (resource.node.defaultChild ?? resource) as CfnResource;
  return Stack.of(cfn).getLogicalId(cfn);
};
const fromStateful = (construct: { node: { defaultChild?: unknown } }) => ({ 'Fn::GetStackOutput': Match.objectLike({ OutputName: Match.stringLikeRegexp(id(construct)) }) });

describe('a function is one entry in lib/functions.ts', () => {
  test('a queue worker: event source with partial batch failures, read-write on exports/, an error alarm, and the app still passes the checks', () => {
    const worker = s.stacks.stateless.functions.exportWorker!;
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: id(worker.fn) },
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      EventSourceArn: fromStateful(s.stacks.stateful.queues.exports.queue),
    });
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

  test('a dead-letter consumer: event source on the dead-letter queue with partial batch failures, an error alarm', () => {
    const consumer = s.stacks.stateless.functions.exportDeadLetter!;
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: id(consumer.fn) },
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      EventSourceArn: fromStateful(s.stacks.stateful.queues.exports.deadLetterQueue),
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Errors', Dimensions: [{ Name: 'FunctionName', Value: { Ref: id(consumer.fn) } }] });
  });

  test('read access to a prefix: GetObject there, ListBucket, decrypt through S3, and nothing else of the bucket', () => {
    const reader = s.stacks.stateless.functions.exportsReader!;
    const policy = Object.values(t.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: id(reader.role) }] } }))[0]!;
    const statements = policy.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown; Condition?: unknown }[];
    const s3 = statements.filter((st) => [st.Action].flat().some((a) => a.startsWith('s3:') || a.startsWith('kms:')));
    expect(s3).toEqual([
      { Effect: 'Allow', Action: 's3:GetObject', Resource: { 'Fn::Join': ['', expect.arrayContaining([`-${s.config.primaryRegion}/${EXPORTS_PREFIX}*`])] } },
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: expect.anything() },
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: expect.anything(), Condition: { StringEquals: { 'kms:ViaService': `s3.${s.config.primaryRegion}.amazonaws.com` } } },
    ]);
  });

  test('the authorizer: on every route that needs a caller, uncached and without identity sources (cookie-only GETs reach it)', () => {
    const authorizer = s.stacks.stateless.api.authorizer!;
    expect(authorizer).toBeDefined();
    const resource = t.findResources('AWS::ApiGateway::Authorizer')[id(authorizer)]!;
    expect(resource.Properties).toMatchObject({ Type: 'REQUEST', AuthorizerResultTtlInSeconds: 0 });
    expect(resource.Properties.IdentitySource ?? '').toBe('');
    const methods = deployedMethods(t, s.routeStacks);
    for (const route of apiRoutes()) {
      const method = methods.find((m) => m.properties.OperationName === route.operationId)!;
      expect([route.operationId, method.properties.AuthorizationType, method.properties.AuthorizerId]).toEqual([
        route.operationId,
        route.auth === 'none' ? 'NONE' : 'CUSTOM',
        route.auth === 'none' ? undefined : { Ref: id(authorizer) },
      ]);
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
    const slow = { ...FUNCTIONS.exportWorker, timeoutSeconds: WORKER_TIMEOUT_SECONDS.exports + 1 };
    expect(() => build({ ...FUNCTIONS, exportWorker: slow })).toThrow(`visibility timeout is sized for ${WORKER_TIMEOUT_SECONDS.exports} s`);
  });

  test('a dead-letter consumer needs a dead-letter queue sized for it', () => {
    const mailDeadLetter: FunctionSpec = { ...FUNCTIONS.exportDeadLetter, invoke: { kind: 'dead-letter', queue: 'mail', batchSize: 10 } };
    expect(() => build({ ...FUNCTIONS, mailDeadLetter })).toThrow(/mail dead-letter queue, which has no consumer timeout in DEAD_LETTER_WORKER_TIMEOUT_SECONDS/);
    const slow = { ...FUNCTIONS.exportDeadLetter, timeoutSeconds: DEAD_LETTER_WORKER_TIMEOUT_SECONDS.exports + 1 };
    expect(() => build({ ...FUNCTIONS, exportDeadLetter: slow })).toThrow(`dead-letter queue's visibility timeout is sized for ${DEAD_LETTER_WORKER_TIMEOUT_SECONDS.exports} s`);
    expect(() => build({ ...FUNCTIONS, exportDeadLetter2: FUNCTIONS.exportDeadLetter })).toThrow(/Two functions consume the exports dead-letter queue/);
  });

  test('docs/deploy.md lists every function with its handler, memory, timeout and V8 flags', () => {
    const docs = readFileSync(join(PROJECT_ROOT, 'docs/deploy.md'), 'utf8').split('\n');
    for (const [name, spec] of Object.entries(FUNCTIONS)) {
      const row = docs.find((line) => line.startsWith(`| \`${name}\` |`));
      expect([name, row]).toEqual([name, expect.stringContaining(`| \`${spec.entry}\` |`)]);
      expect([name, row]).toEqual([name, expect.stringContaining(`| ${spec.memoryMb} MB, ${spec.timeoutSeconds} s |`)]);
      const v8Flags: readonly string[] = 'v8Flags' in spec ? spec.v8Flags : [];
      if (v8Flags.length) expect([name, row]).toEqual([name, expect.stringContaining(`\`${v8Flags.join(' ')}\``)]);
    }
  });

  test('exactly one function per route group behind the API', () => {
    const { auth: _auth, ...withoutAuth } = FUNCTIONS;
    expect(() => build(withoutAuth)).toThrow("No function serves the auth routes: add one with invoke { kind: 'api', group: 'auth' }");
    const { api: _api, ...withoutApi } = FUNCTIONS;
    expect(() => build(withoutApi)).toThrow(/No function serves the api routes/);
    expect(() => build({ ...FUNCTIONS, exports2: FUNCTIONS.exports })).toThrow('Two functions serve the exports routes: exports and exports2');
    const unknown = { ...FUNCTIONS.api, invoke: { kind: 'api', group: 'billing' } } as unknown as FunctionSpec;
    expect(() => build({ ...FUNCTIONS, billing: unknown })).toThrow(/serves the unknown function group billing/);
  });
});
