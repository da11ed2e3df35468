/**
 * The four stacks, synthesized once (the same app, context and checks as `npx cdk
 * synth`, bundling skipped): every property issue 6 names, with the expected values
 * taken from the configuration and the shared constants, not copied here.
 */
import { beforeAll, describe, expect, test } from '@jest/globals';
import { CfnResource, Stack, Validations } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { FUNCTION_GROUPS, functionGroup, routesFor, type FunctionGroup } from '../../lambdas/http/route-groups.js';
import { apiRoutes } from '../../lambdas/http/route-table.js';
import { NEWEST_COPY_AGE_METRIC } from '../../lambdas/domain/snapshots.js';
import {
  ALARMS,
  API_BASE_PATH,
  API_ROUTE_STACKS,
  API_STAGE,
  ATTACHMENTS_PREFIX,
  AUTH_PATH_PREFIX,
  DATABASE,
  EXPORTS_PREFIX,
  MAX_RECEIVE_COUNT,
  RESTORE_SECURITY_GROUP_TAG,
  SNAPSHOT_COPIER,
  STACK_RESOURCE_BUDGET,
  VISIBILITY_TIMEOUT_FACTOR,
  WORKER_TIMEOUT_SECONDS,
  deadLetterWorkerTimeout,
  names,
  type QueueName,
} from '../../lib/config.js';
import { COMMON_RULES_IN_COUNT_MODE, REDACTED_HEADERS } from '../../lib/constructs/api-firewall.js';
import { ENV, RUNTIME, V8_FLAGS_ENV, V8_FLAGS_WRAPPER } from '../../lib/constructs/app-function.js';
import { ACKNOWLEDGMENTS, MIN_REASON_LENGTH } from '../../lib/constructs/nag.js';
import { FUNCTIONS, type FunctionSpec } from '../../lib/functions.js';
import { COPIER_ENV } from '../../lib/stacks/backup-stack.js';
import { cdkJson, deployedMethods, only, synthApp, type SynthesizedApp } from './support.js';

let s: SynthesizedApp;
/** Synthesis takes ~10 s of CPU; allow for a busy machine. */
const SYNTH_TIMEOUT_MS = 180_000;

beforeAll(() => {
  s = synthApp();
}, SYNTH_TIMEOUT_MS);

const logicalId = (construct: IConstruct) => {
  const cfn = CfnResource.isCfnResource(construct) ? construct : (construct.node.defaultChild as CfnResource);
  return Stack.of(cfn).getLogicalId(cfn);
};
const ref = (construct: IConstruct) => ({ Ref: logicalId(construct) });
const arnOf = (construct: IConstruct) => ({ 'Fn::GetAtt': [logicalId(construct), 'Arn'] });
/** A value another stack publishes (weak cross-stack reference). */
const fromStateful = () => ({ 'Fn::GetStackOutput': Match.objectLike({ StackName: s.stacks.stateful.stackName }) });
const specs = Object.entries(FUNCTIONS) as [string, FunctionSpec][];
/** Function group -> the name of the function of lib/functions.ts that serves its routes. */
const servedBy = Object.fromEntries(specs.flatMap(([name, spec]) => (spec.invoke.kind === 'api' ? [[spec.invoke.group, name]] : []))) as Record<FunctionGroup, string>;
/** An ARN another stack publishes, as this stack reads it. */
const arnFromStateful = (construct: IConstruct) => ({ 'Fn::GetStackOutput': expect.objectContaining({ OutputName: expect.stringMatching(logicalId(construct)) }) });

describe('stateful stack', () => {
  let t: Template;
  beforeAll(() => {
    t = s.templates.stateful;
  });

  test('VPC: isolated subnets only, in the configured zones, no NAT or internet gateway, flow logs', () => {
    const zones = s.config.availabilityZones[s.config.primaryRegion]!;
    expect(zones.length).toBeGreaterThanOrEqual(2);
    t.resourceCountIs('AWS::EC2::Subnet', zones.length);
    for (const zone of zones) t.hasResourceProperties('AWS::EC2::Subnet', { AvailabilityZone: zone, MapPublicIpOnLaunch: false });
    t.resourceCountIs('AWS::EC2::NatGateway', 0);
    t.resourceCountIs('AWS::EC2::InternetGateway', 0);
    t.resourceCountIs('AWS::EC2::Route', 0);
    t.hasResourceProperties('AWS::EC2::FlowLog', { ResourceType: 'VPC', TrafficType: 'ALL', LogDestinationType: 'cloud-watch-logs' });
  });

  test('customer-managed key with rotation', () => {
    t.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    t.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain' });
  });

  test('Aurora PostgreSQL 16+ Serverless v2 with the Data API, encrypted, protected, backed up', () => {
    const cluster = only(t, 'AWS::RDS::DBCluster');
    expect(Number(String(cluster.resource.Properties.EngineVersion).split('.')[0])).toBeGreaterThanOrEqual(DATABASE.engineMajor);
    t.hasResourceProperties('AWS::RDS::DBCluster', {
      Engine: 'aurora-postgresql',
      DBClusterIdentifier: names(s.config).clusterIdentifier,
      DatabaseName: DATABASE.name,
      EnableHttpEndpoint: true,
      StorageEncrypted: true,
      KmsKeyId: arnOf(s.stacks.stateful.key),
      DeletionProtection: true,
      BackupRetentionPeriod: s.config.backupRetentionDays,
      CopyTagsToSnapshot: true,
      EnableCloudwatchLogsExports: ['postgresql'],
      ManageMasterUserPassword: true,
      MasterUserSecret: { KmsKeyId: arnOf(s.stacks.stateful.key) },
      ServerlessV2ScalingConfiguration: { MinCapacity: s.config.dbMinCapacity, MaxCapacity: s.config.dbMaxCapacity },
      VpcSecurityGroupIds: [{ 'Fn::GetAtt': [logicalId(s.stacks.stateful.network.databaseSecurityGroup), 'GroupId'] }],
    });
    t.hasResource('AWS::RDS::DBCluster', { DeletionPolicy: 'Snapshot' });
  });

  test('cluster parameter group forces TLS', () => {
    const group = only(t, 'AWS::RDS::DBClusterParameterGroup', { Parameters: { 'rds.force_ssl': '1' } });
    t.hasResourceProperties('AWS::RDS::DBCluster', { DBClusterParameterGroupName: { Ref: group.id } });
  });

  test('a serverless writer and a reader, in different zones', () => {
    const [writerZone, readerZone] = s.config.availabilityZones[s.config.primaryRegion]!;
    t.resourceCountIs('AWS::RDS::DBInstance', 2);
    t.hasResourceProperties('AWS::RDS::DBInstance', { DBInstanceClass: 'db.serverless', PromotionTier: 0, AvailabilityZone: writerZone, PubliclyAccessible: false });
    t.hasResourceProperties('AWS::RDS::DBInstance', { DBInstanceClass: 'db.serverless', PromotionTier: 1, AvailabilityZone: readerZone, PubliclyAccessible: false });
    expect(writerZone).not.toBe(readerZone);
  });

  test('PostgreSQL logs exported into a log group with retention, created before the cluster', () => {
    const logs = only(t, 'AWS::Logs::LogGroup', { LogGroupName: `/aws/rds/cluster/${names(s.config).clusterIdentifier}/postgresql` });
    expect(logs.resource.Properties.RetentionInDays).toBe(s.config.logRetentionDays);
    expect(only(t, 'AWS::RDS::DBCluster').resource.DependsOn).toContain(logs.id);
  });

  test('the database security group has no inbound rules', () => {
    const sg = s.stacks.stateful.network.databaseSecurityGroup;
    const group = t.findResources('AWS::EC2::SecurityGroup')[logicalId(sg)]!;
    expect(group.Properties.SecurityGroupIngress).toBeUndefined();
    t.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
  });

  test('export bucket: KMS, public access blocked, SSL only, exports expire, access logs', () => {
    t.hasResourceProperties('AWS::S3::Bucket', {
      BucketName: { 'Fn::Join': ['', [`${s.config.appName}-exports-`, { Ref: 'AWS::AccountId' }, `-${s.config.primaryRegion}`]] },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: arnOf(s.stacks.stateful.key) }, BucketKeyEnabled: true }],
      },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LoggingConfiguration: { DestinationBucketName: ref(s.stacks.stateful.accessLogsBucket), LogFilePrefix: 'export-bucket/' },
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ ExpirationInDays: s.config.exportLinkDays, Status: 'Enabled' })]) },
    });
    const secureTransport = Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } });
    // TLS 1.2 at least, on the export bucket (attachments and exports).
    t.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: ref(s.stacks.stateful.exportBucket),
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } } })]) },
    });
    for (const bucket of [s.stacks.stateful.exportBucket, s.stacks.stateful.accessLogsBucket]) {
      t.hasResourceProperties('AWS::S3::BucketPolicy', { Bucket: ref(bucket), PolicyDocument: { Statement: Match.arrayWith([secureTransport]) } });
    }
    t.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: s.config.logRetentionDays })] },
    });
  });

  test('queues: KMS, SSL only, a dead-letter queue after 5 receives, visibility at least 6x the worker timeout', () => {
    t.resourceCountIs('AWS::SQS::Queue', 4);
    const queues = t.findResources('AWS::SQS::Queue');
    for (const [name, queue] of Object.entries(s.stacks.stateful.queues) as [QueueName, (typeof s.stacks.stateful.queues)['mail']][]) {
      const visibility = WORKER_TIMEOUT_SECONDS[name] * VISIBILITY_TIMEOUT_FACTOR;
      expect(queues[logicalId(queue.queue)]!.Properties).toMatchObject({
        KmsMasterKeyId: arnOf(s.stacks.stateful.key),
        VisibilityTimeout: visibility,
        RedrivePolicy: { deadLetterTargetArn: arnOf(queue.deadLetterQueue), maxReceiveCount: MAX_RECEIVE_COUNT },
      });
      // A dead-letter queue with a consumer is sized for it like a queue; the others keep SQS's default (30 s).
      const deadLetterTimeout = deadLetterWorkerTimeout(name);
      const deadLetterVisibility = deadLetterTimeout === undefined ? undefined : deadLetterTimeout * VISIBILITY_TIMEOUT_FACTOR;
      expect([name, queues[logicalId(queue.deadLetterQueue)]!.Properties.VisibilityTimeout]).toEqual([name, deadLetterVisibility]);
      // Whatever consumes the queue (or its dead-letter queue) really finishes within a sixth of the visibility timeout.
      for (const [fn, spec] of specs) {
        if (spec.invoke.kind === 'queue' && spec.invoke.queue === name) expect([fn, spec.timeoutSeconds * 6 <= visibility]).toEqual([fn, true]);
        if (spec.invoke.kind === 'dead-letter' && spec.invoke.queue === name) expect([fn, spec.timeoutSeconds * 6 <= (deadLetterVisibility ?? 30)]).toEqual([fn, true]);
      }
      for (const q of [queue.queue, queue.deadLetterQueue]) {
        t.hasResourceProperties('AWS::SQS::Queue', Match.objectLike({ KmsMasterKeyId: arnOf(s.stacks.stateful.key) }));
        t.hasResourceProperties('AWS::SQS::QueuePolicy', {
          Queues: [ref(q)],
          PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
        });
      }
    }
    expect(MAX_RECEIVE_COUNT).toBe(5);
    expect(VISIBILITY_TIMEOUT_FACTOR).toBeGreaterThanOrEqual(6);
    // The export worker runs up to Lambda's 15 minutes; its messages stay invisible 6 times that.
    expect(FUNCTIONS.exportWorker.timeoutSeconds).toBe(900);
    expect(queues[logicalId(s.stacks.stateful.queues.exports.queue)]!.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * 900);
  });

  test('export bucket lifecycle: exports/ expire after the export link lifetime, ad-hoc exports after a day, attachments never', () => {
    const rules = (t.findResources('AWS::S3::Bucket')[logicalId(s.stacks.stateful.exportBucket)]!.Properties.LifecycleConfiguration as { Rules: Record<string, unknown>[] }).Rules;
    expect(rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Prefix: EXPORTS_PREFIX, ExpirationInDays: s.config.exportLinkDays, Status: 'Enabled' }),
        expect.objectContaining({ Prefix: `${EXPORTS_PREFIX}adhoc/`, ExpirationInDays: 1 }),
        // A long export keeps its multipart upload open across invocations: never aborted before its link would expire.
        expect.objectContaining({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: s.config.exportLinkDays } }),
      ]),
    );
    // Only exports expire; a rule without a prefix may only abort incomplete uploads.
    for (const rule of rules) {
      if (rule.ExpirationInDays !== undefined) expect(String(rule.Prefix)).toMatch(new RegExp(`^${EXPORTS_PREFIX}`));
      expect(String(rule.Prefix ?? '')).not.toMatch(new RegExp(`^${ATTACHMENTS_PREFIX}`));
    }
  });

  test('SES: identity on the configuration set, reputation metrics, bounces and complaints suppressed', () => {
    t.hasResourceProperties('AWS::SES::ConfigurationSet', {
      ReputationOptions: { ReputationMetricsEnabled: true },
      SuppressionOptions: { SuppressedReasons: Match.arrayEquals(['BOUNCE', 'COMPLAINT']) },
      SendingOptions: { SendingEnabled: true },
    });
    t.hasResourceProperties('AWS::SES::EmailIdentity', {
      EmailIdentity: s.config.sesDomain ?? s.config.senderEmail,
      ConfigurationSetAttributes: { ConfigurationSetName: ref(s.stacks.stateful.configurationSet) },
    });
  });

  test('application master secret, generated and encrypted with the data key', () => {
    t.hasResourceProperties('AWS::SecretsManager::Secret', {
      KmsKeyId: arnOf(s.stacks.stateful.key),
      GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true },
    });
  });

  test('termination protected', () => {
    expect(s.stacks.stateful.terminationProtection).toBe(true);
    expect(s.stacks.dr.terminationProtection).toBe(true);
  });
});

describe('stateless stack', () => {
  let t: Template;
  beforeAll(() => {
    t = s.templates.stateless;
  });

  const fnId = (name: string) => logicalId(s.stacks.stateless.functions[name]!.fn);
  const fnResource = (name: string) => t.findResources('AWS::Lambda::Function')[fnId(name)]!;
  const policyOf = (name: string) => {
    const policies = Object.values(t.findResources('AWS::IAM::Policy')).filter((p) =>
      (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === logicalId(s.stacks.stateless.functions[name]!.role)),
    );
    return policies.flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown; Condition?: unknown }[]);
  };
  const actionsOf = (name: string) => new Set(policyOf(name).flatMap((st) => [st.Action].flat()));

  test("REST API: exactly the route table under /api/1.0, each route a proxy integration to its group's function", () => {
    const api = logicalId(s.stacks.stateless.api.api);
    const methods = deployedMethods(t, s.routeStacks);
    const routes = apiRoutes();
    expect(routes.length).toBeGreaterThan(0);
    expect(methods.map((m) => m.route).sort()).toEqual(routes.map((r) => `${r.method} ${API_BASE_PATH}${r.path}`).sort());
    for (const route of routes) {
      const method = methods.find((m) => m.route === `${route.method} ${API_BASE_PATH}${route.path}`)!;
      expect(method.properties).toMatchObject({
        HttpMethod: route.method,
        OperationName: route.operationId,
        RestApiId: { Ref: api },
        Integration: {
          Type: 'AWS_PROXY',
          IntegrationHttpMethod: 'POST',
          Uri: { 'Fn::Join': ['', expect.arrayContaining([{ 'Fn::GetAtt': [fnId(servedBy[functionGroup(route)]), 'Arn'] }])] },
        },
      });
      // ...and no other function's.
      const uri = JSON.stringify((method.properties.Integration as { Uri: unknown }).Uri);
      const targets = specs.filter(([name]) => uri.includes(JSON.stringify({ 'Fn::GetAtt': [fnId(name), 'Arn'] }))).map(([name]) => name);
      expect([route.operationId, targets]).toEqual([route.operationId, [servedBy[functionGroup(route)]]]);
    }
    // The parent holds /api and /api/1.0 only; every route's resources are in a route stack.
    t.resourceCountIs('AWS::ApiGateway::Method', 0);
    expect(Object.values(t.findResources('AWS::ApiGateway::Resource')).map((r) => r.Properties.PathPart).sort()).toEqual(['1.0', 'api']);
    // One invoke permission per function for the whole API, not one per method (nor per route stack).
    for (const group of FUNCTION_GROUPS) t.resourcePropertiesCountIs('AWS::Lambda::Permission', { FunctionName: { 'Fn::GetAtt': [fnId(servedBy[group]), 'Arn'] } }, 1);
    for (const { template } of s.routeStacks) template.resourceCountIs('AWS::Lambda::Permission', 0);
  });

  test('routes live in nested stacks, deployed one after the other, and the stage deploys after all of them', () => {
    expect(s.routeStacks.length).toBeGreaterThan(1);
    expect(s.routeStacks.length).toBeLessThanOrEqual(API_ROUTE_STACKS);
    const nested = t.findResources('AWS::CloudFormation::Stack');
    const ids = s.routeStacks.map(({ stack }) => logicalId(stack.nestedStackResource!));
    expect(Object.keys(nested).sort()).toEqual([...ids].sort());
    // One at a time: API Gateway throttles (429) resources created in parallel.
    ids.slice(1).forEach((id, i) => expect(nested[id]!.DependsOn).toEqual([ids[i]]));
    // The deployment waits for every route stack; its logical id carries a hash of every method.
    const deployment = only(t, 'AWS::ApiGateway::Deployment');
    expect(deployment.resource.DependsOn).toEqual(expect.arrayContaining(ids));
    expect(deployment.id).toMatch(/^ApiDeployment[0-9A-F]{8}[0-9a-f]{32}$/);
    t.hasResourceProperties('AWS::ApiGateway::Stage', { DeploymentId: { Ref: deployment.id } });
  });

  test('request validation: path parameters required, JSON bodies must be a {"data": ...} envelope', () => {
    const validator = only(t, 'AWS::ApiGateway::RequestValidator', { ValidateRequestBody: true, ValidateRequestParameters: true });
    const model = only(t, 'AWS::ApiGateway::Model', { ContentType: 'application/json', Schema: Match.objectLike({ required: ['data'] }) });
    const methods = deployedMethods(t, s.routeStacks);
    for (const route of apiRoutes()) {
      const params = [...route.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
      const method = methods.find((m) => m.properties.OperationName === route.operationId)!;
      expect(method.properties).toMatchObject({
        RequestValidatorId: { Ref: validator.id },
        ...(params.length ? { RequestParameters: Object.fromEntries(params.map((p) => [`method.request.path.${p}`, true])) } : {}),
        ...(route.request.body ? { RequestModels: { 'application/json': { Ref: model.id } } } : {}),
      });
      if (!route.request.body) expect(method.properties.RequestModels).toBeUndefined();
    }
  });

  test('stage: access logs, execution logging without bodies, throttling, X-Ray', () => {
    const accessLogs = s.stacks.stateless.node.findChild('ApiAccessLogs');
    expect(t.findResources('AWS::Logs::LogGroup')[logicalId(accessLogs)]!.Properties.RetentionInDays).toBe(s.config.logRetentionDays);
    t.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: API_STAGE,
      TracingEnabled: true,
      AccessLogSetting: {
        DestinationArn: { 'Fn::Join': ['', Match.arrayWith([{ Ref: logicalId(accessLogs) }])] },
        Format: Match.stringLikeRegexp('"requestId":"\\$context.requestId".*"status":"\\$context.status"'),
      },
      MethodSettings: [
        {
          HttpMethod: '*',
          ResourcePath: '/*',
          LoggingLevel: 'ERROR',
          DataTraceEnabled: false,
          MetricsEnabled: true,
          ThrottlingRateLimit: s.config.apiThrottleRateLimit,
          ThrottlingBurstLimit: s.config.apiThrottleBurstLimit,
        },
      ],
    });
    // Execution logging needs API Gateway's account-level CloudWatch role.
    t.resourceCountIs('AWS::ApiGateway::Account', 1);
  });

  test("API Gateway's own answers use Asana's error shape (unknown routes are 404, throttling 429)", () => {
    t.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'MISSING_AUTHENTICATION_TOKEN',
      StatusCode: '404',
      ResponseTemplates: { 'application/json': '{"errors":[{"message":"Not Found"}]}' },
    });
    t.hasResourceProperties('AWS::ApiGateway::GatewayResponse', { ResponseType: 'THROTTLED', StatusCode: '429', ResponseParameters: { 'gatewayresponse.header.Retry-After': "'1'" } });
    t.hasResourceProperties('AWS::ApiGateway::GatewayResponse', { ResponseType: 'DEFAULT_4XX', ResponseTemplates: { 'application/json': '{"errors":[{"message":$context.error.messageString}]}' } });
    t.hasResourceProperties('AWS::ApiGateway::GatewayResponse', { ResponseType: 'DEFAULT_5XX' });
  });

  test('WAF: managed common and known-bad-inputs rules, per-IP rate limits (the strict one on /auth), on the stage', () => {
    const acl = only(t, 'AWS::WAFv2::WebACL', { Scope: 'REGIONAL', DefaultAction: { Allow: {} } });
    t.hasResourceProperties('AWS::WAFv2::WebACL', {
      Rules: Match.arrayWith([
        Match.objectLike({
          Name: 'AuthRateLimit',
          Action: { Block: { CustomResponse: Match.objectLike({ ResponseCode: 429 }) } },
          Statement: {
            RateBasedStatement: {
              Limit: s.config.wafAuthRateLimit,
              AggregateKeyType: 'IP',
              EvaluationWindowSec: 300,
              ScopeDownStatement: { ByteMatchStatement: Match.objectLike({ FieldToMatch: { UriPath: {} }, PositionalConstraint: 'CONTAINS', SearchString: `${AUTH_PATH_PREFIX}/` }) },
            },
          },
        }),
        Match.objectLike({ Name: 'ApiRateLimit', Statement: { RateBasedStatement: Match.objectLike({ Limit: s.config.wafApiRateLimit, AggregateKeyType: 'IP' }) } }),
        Match.objectLike({
          Name: 'AWSManagedRulesCommonRuleSet',
          OverrideAction: { None: {} },
          Statement: {
            ManagedRuleGroupStatement: {
              VendorName: 'AWS',
              Name: 'AWSManagedRulesCommonRuleSet',
              RuleActionOverrides: COMMON_RULES_IN_COUNT_MODE.map((Name) => ({ Name, ActionToUse: { Count: {} } })),
            },
          },
        }),
        Match.objectLike({ Name: 'AWSManagedRulesKnownBadInputsRuleSet', Statement: { ManagedRuleGroupStatement: { VendorName: 'AWS', Name: 'AWSManagedRulesKnownBadInputsRuleSet' } } }),
      ]),
    });
    // The auth routes of the route table really are under the rate-limited prefix.
    const authRoutes = apiRoutes().filter((r) => r.path.startsWith('/auth'));
    for (const route of authRoutes) expect(`${API_BASE_PATH}${route.path}`.startsWith(`${AUTH_PATH_PREFIX}/`)).toBe(true);
    t.hasResourceProperties('AWS::WAFv2::WebACLAssociation', {
      WebACLArn: { 'Fn::GetAtt': [acl.id, 'Arn'] },
      ResourceArn: { 'Fn::Join': ['', Match.arrayWith([{ Ref: logicalId(s.stacks.stateless.api.api.deploymentStage) }])] },
    });
  });

  test('WAF logs every request to aws-waf-logs-<app> with retention, Authorization and Cookie headers redacted', () => {
    const acl = only(t, 'AWS::WAFv2::WebACL');
    const group = only(t, 'AWS::Logs::LogGroup', { LogGroupName: `aws-waf-logs-${s.config.appName}` });
    expect(names(s.config).wafLogGroup).toBe(`aws-waf-logs-${s.config.appName}`);
    expect(group.resource.Properties.RetentionInDays).toBe(s.config.logRetentionDays);
    const logging = only(t, 'AWS::WAFv2::LoggingConfiguration');
    expect(logging.resource.Properties).toEqual({
      ResourceArn: { 'Fn::GetAtt': [acl.id, 'Arn'] },
      // The log group's ARN without ":*" (WAF refuses the LogGroup.logGroupArn form).
      LogDestinationConfigs: [{ 'Fn::Join': ['', [`arn:aws:logs:${s.config.primaryRegion}:`, { Ref: 'AWS::AccountId' }, ':log-group:', { Ref: group.id }]] }],
      RedactedFields: [{ SingleHeader: { Name: 'authorization' } }, { SingleHeader: { Name: 'cookie' } }],
    });
    expect(REDACTED_HEADERS).toEqual(['authorization', 'cookie']);
  });

  test('every function of lib/functions.ts: latest Node.js on ARM64, X-Ray, its own log group with retention, its size', () => {
    expect(RUNTIME.name).toBe('nodejs24.x');
    for (const [name, spec] of specs) {
      const fn = s.stacks.stateless.functions[name]!;
      t.hasResourceProperties('AWS::Lambda::Function', {
        Runtime: RUNTIME.name,
        Architectures: ['arm64'],
        Handler: 'index.handler',
        MemorySize: spec.memoryMb,
        Timeout: spec.timeoutSeconds,
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogGroup: ref(fn.logGroup) },
        Role: arnOf(fn.role),
      });
      t.hasResourceProperties('AWS::Logs::LogGroup', Match.objectLike({ RetentionInDays: s.config.logRetentionDays }));
      expect(t.findResources('AWS::Logs::LogGroup')[logicalId(fn.logGroup)]!.Properties.RetentionInDays).toBe(s.config.logRetentionDays);
      // No AWS managed policy on function roles (they only write to their own log group).
      expect(t.findResources('AWS::IAM::Role')[logicalId(fn.role)]!.Properties.ManagedPolicyArns).toBeUndefined();
      // Source-mapped stack traces everywhere; the spec's V8 flags through the exec wrapper, and only there.
      const vars = fnResource(name).Properties.Environment.Variables as Record<string, string>;
      expect([name, vars.NODE_OPTIONS]).toEqual([name, '--enable-source-maps']);
      const pinned = spec.v8Flags ? { AWS_LAMBDA_EXEC_WRAPPER: `/var/task/${V8_FLAGS_WRAPPER}`, [V8_FLAGS_ENV]: spec.v8Flags.join(' ') } : { AWS_LAMBDA_EXEC_WRAPPER: undefined, [V8_FLAGS_ENV]: undefined };
      expect([name, { AWS_LAMBDA_EXEC_WRAPPER: vars.AWS_LAMBDA_EXEC_WRAPPER, [V8_FLAGS_ENV]: vars[V8_FLAGS_ENV] }]).toEqual([name, pinned]);
    }
    expect(fnResource('exportWorker').Properties.Environment.Variables[V8_FLAGS_ENV]).toBe('--max-old-space-size=512 --max-semi-space-size=32');
  });

  test('bind helpers: each variable comes with exactly its grant', () => {
    const env = (name: string) => fnResource(name).Properties.Environment.Variables as Record<string, unknown>;
    const db = s.stacks.stateful.database;
    expect(Object.keys(env('migrate')).sort()).toEqual([ENV.dbClusterArn, ENV.dbName, ENV.dbSecretArn, 'NODE_OPTIONS', 'POWERTOOLS_SERVICE_NAME'].sort());
    for (const [name, spec] of specs) {
      const actions = actionsOf(name);
      const vars = env(name);
      expect(vars[ENV.dbName]).toBe(db.databaseName);
      expect(actions.has('rds-data:ExecuteStatement')).toBe(spec.uses.database === true);
      expect(actions.has('secretsmanager:GetSecretValue')).toBe(spec.uses.database === true || spec.uses.appSecret === true);
      const access = Object.values(spec.uses.exportBucket ?? {});
      expect([name, actions.has('s3:GetObject')]).toEqual([name, access.some((a) => a !== 'delete')]);
      expect([name, actions.has('s3:PutObject')]).toEqual([name, access.includes('read-write')]);
      expect([name, actions.has('s3:DeleteObject')]).toEqual([name, access.some((a) => a !== 'read')]);
      expect([name, vars[ENV.exportBucket] !== undefined]).toEqual([name, spec.awsDeps === true || access.length > 0]);
      expect(actions.has('sqs:SendMessage')).toBe((spec.uses.sendsTo ?? []).length > 0);
      expect(actions.has('ses:SendEmail')).toBe(spec.uses.mail === 'send');
      // A function wired with awsDeps() gets every address its cold start reads.
      if (spec.awsDeps) {
        for (const variable of [ENV.dbClusterArn, ENV.dbSecretArn, ENV.exportBucket, ENV.exportQueueUrl, ENV.mailQueueUrl, ENV.mailFrom, ENV.sesConfigurationSet, ENV.appSecretArn, ENV.maxBodyBytes]) {
          expect([name, variable, vars[variable]]).toEqual([name, variable, expect.anything()]);
        }
        // Settings: the same values everywhere; the link lifetime is the bucket's expiry of exports/.
        expect([name, vars[ENV.exportLinkDays], vars[ENV.defaultPlan]]).toEqual([name, String(s.config.exportLinkDays), s.config.defaultPlan]);
      }
    }
    for (const name of ['api', 'exportWorker']) expect([name, env(name)[ENV.exportLinkDays]]).toEqual([name, String(s.config.exportLinkDays)]);
    expect(env('api')[ENV.maxBodyBytes]).toBe(String(s.config.maxBodyBytes));
    expect(env('api')[ENV.mailFrom]).toBe(s.config.senderEmail);
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: ['ses:SendEmail', 'ses:SendRawEmail'], Condition: { StringEquals: { 'ses:FromAddress': s.config.senderEmail } } }),
        ]),
      },
    });
  });

  test('export bucket grants: per prefix, exactly the actions of the access level, keys through S3 only', () => {
    const bucketArn = ['arn:', { Ref: 'AWS::Partition' }, `:s3:::${s.config.appName}-exports-`, { Ref: 'AWS::AccountId' }, `-${s.config.primaryRegion}`];
    const objects = (prefix: string) => ({ 'Fn::Join': ['', [...bucketArn.slice(0, -1), `-${s.config.primaryRegion}/${prefix}*`]] });
    const bucket = { 'Fn::Join': ['', bucketArn] };
    const viaS3 = { StringEquals: { 'kms:ViaService': `s3.${s.config.primaryRegion}.amazonaws.com` } };
    const readWrite = ['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:PutObject'];
    const s3Statements = (name: string) =>
      policyOf(name).filter((st) => [st.Action].flat().some((a) => a.startsWith('s3:')) || (st.Condition as typeof viaS3 | undefined)?.StringEquals?.['kms:ViaService'] === viaS3.StringEquals['kms:ViaService']);
    const key = arnFromStateful(s.stacks.stateful.key);
    const expected: Record<string, object[]> = {
      // Uploads, signed and multipart uploads, signed downloads of attachments; nothing under exports/.
      api: [
        { Effect: 'Allow', Action: readWrite, Resource: objects(ATTACHMENTS_PREFIX) },
        { Effect: 'Allow', Action: 's3:ListBucket', Resource: bucket },
        { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: key, Condition: viaS3 },
      ],
      // Ad-hoc exports written under exports/adhoc/ and signed; export job files signed for download; never attachments.
      exports: [
        { Effect: 'Allow', Action: readWrite, Resource: objects(EXPORTS_PREFIX) },
        { Effect: 'Allow', Action: 's3:ListBucket', Resource: bucket },
        { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: key, Condition: viaS3 },
      ],
      // auth: no statement at all (identity never touches the bucket).
      auth: [],
      // Export files (multipart, checkpointed), never attachments.
      exportWorker: [
        { Effect: 'Allow', Action: readWrite, Resource: objects(EXPORTS_PREFIX) },
        { Effect: 'Allow', Action: 's3:ListBucket', Resource: bucket },
        { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: key, Condition: viaS3 },
      ],
      // Deletes the blobs of purged attachments and the files of expired or failed exports: no reads, no key use.
      purge: [{ Effect: 'Allow', Action: ['s3:AbortMultipartUpload', 's3:DeleteObject'], Resource: [objects(ATTACHMENTS_PREFIX), objects(EXPORTS_PREFIX)] }],
    };
    for (const [name] of specs) expect([name, s3Statements(name)]).toEqual([name, expected[name] ?? []]);
    expect(FUNCTIONS.auth.uses).not.toHaveProperty('exportBucket');
    expect(FUNCTIONS.purge.uses.exportBucket).toEqual({ attachments: 'delete', exports: 'delete' });
  });

  test('behind API Gateway: one function per route group, sized and granted for its routes alone', () => {
    expect(Object.keys(servedBy).sort()).toEqual([...FUNCTION_GROUPS].sort());
    for (const group of FUNCTION_GROUPS) {
      const spec = FUNCTIONS[servedBy[group] as keyof typeof FUNCTIONS];
      expect([group, spec.entry, spec.timeoutSeconds, routesFor(group, apiRoutes()).length > 0]).toEqual([group, `lambdas/handlers/${group}.ts`, 29, true]);
    }
    // Password hashing (scrypt, 128 MiB a hash and CPU-bound) in auth; large documents in exports.
    expect(FUNCTIONS.auth.memoryMb).toBeGreaterThanOrEqual(1024);
    expect(FUNCTIONS.exports.memoryMb).toBe(2048);
    const { exports: exportsQueue, mail: mailQueue } = s.stacks.stateful.queues;
    const sends = (name: string) => policyOf(name).filter((st) => [st.Action].flat().includes('sqs:SendMessage')).map((st) => st.Resource);
    // Login alerts, password resets, not-me and invitation mail (auth); organization and team invitations (api); export job requests (exports).
    expect(sends(servedBy.auth)).toEqual([arnFromStateful(mailQueue.queue)]);
    expect(sends(servedBy.api)).toEqual([arnFromStateful(mailQueue.queue)]);
    expect(sends(servedBy.exports)).toEqual([arnFromStateful(exportsQueue.queue)]);
    const secret = (name: string) => policyOf(name).some((st) => [st.Action].flat().includes('secretsmanager:GetSecretValue') && JSON.stringify(st.Resource).includes(logicalId(s.stacks.stateful.appSecret)));
    expect(Object.fromEntries(FUNCTION_GROUPS.map((group) => [group, secret(servedBy[group])]))).toEqual({ auth: true, api: true, exports: false });
    for (const group of FUNCTION_GROUPS) {
      const actions = actionsOf(servedBy[group]);
      expect([group, actions.has('rds-data:ExecuteStatement'), actions.has('ses:SendEmail'), [...actions].some((a) => a.startsWith('sqs:Receive'))]).toEqual([group, true, false, false]);
    }
  });

  test('migrations run through a CDK trigger on every deploy that changes the migrate function, after its permissions', () => {
    const trigger = only(t, 'Custom::Trigger');
    expect(trigger.resource.Properties).toMatchObject({ InvocationType: 'RequestResponse', ExecuteOnHandlerChange: true, HandlerArn: { Ref: expect.stringMatching(/^MigrateFunctionCurrentVersion/) } });
    expect(trigger.resource.DependsOn).toEqual(expect.arrayContaining([fnId('migrate'), logicalId(s.stacks.stateless.functions.migrate!.policy())]));
    // After the cluster exists: the stateless stack deploys after the stateful one.
    expect(s.stacks.stateless.dependencies).toContain(s.stacks.stateful);
  });

  test('the export worker and the exports dead-letter function, as the export system needs them', () => {
    expect(FUNCTIONS.exportWorker).toMatchObject({
      entry: 'lambdas/handlers/export-worker.ts',
      memoryMb: 1024,
      timeoutSeconds: 900,
      invoke: { kind: 'queue', queue: 'exports', batchSize: 1 },
      awsDeps: true,
    });
    expect(FUNCTIONS.exportDeadLetter).toMatchObject({
      entry: 'lambdas/handlers/export-dead-letter.ts',
      memoryMb: 512,
      timeoutSeconds: 60,
      invoke: { kind: 'dead-letter', queue: 'exports', batchSize: 10 },
      awsDeps: true,
    });
    const queueArn = arnFromStateful;
    const { queue, deadLetterQueue } = s.stacks.stateful.queues.exports;
    const mail = s.stacks.stateful.queues.mail.queue;
    // The worker hands the rest of a long export to a new message on its own queue, and mails.
    expect(policyOf('exportWorker')).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Action: 'sqs:SendMessage', Resource: [queueArn(queue), queueArn(mail)] }),
        expect.objectContaining({ Action: expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility']), Resource: queueArn(queue) }),
      ]),
    );
    // The dead-letter function reads the dead-letter queue and mails; it sends nothing to exports.
    const deadLetter = policyOf('exportDeadLetter');
    expect(deadLetter).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Action: 'sqs:SendMessage', Resource: queueArn(mail) }),
        expect.objectContaining({ Action: expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage']), Resource: queueArn(deadLetterQueue) }),
      ]),
    );
    expect(deadLetter.filter((st) => JSON.stringify(st.Resource).includes(logicalId(queue)))).toEqual([]);
    for (const name of ['exportWorker', 'exportDeadLetter']) {
      const actions = actionsOf(name);
      expect([name, actions.has('rds-data:ExecuteStatement'), actions.has('secretsmanager:GetSecretValue')]).toEqual([name, true, true]);
      expect(policyOf(name)).toEqual(expect.arrayContaining([expect.objectContaining({ Action: 'secretsmanager:GetSecretValue', Resource: arnFromStateful(s.stacks.stateful.appSecret) })]));
    }
    // The outbox relay restarts stalled export jobs: it sends to the exports queue too.
    expect(FUNCTIONS.outboxRelay.uses.sendsTo).toEqual(expect.arrayContaining(['exports', 'mail']));
  });

  test('workers and schedules: partial batch failures, schedules, error alarms', () => {
    for (const [name, spec] of specs) {
      const invoke = spec.invoke;
      if (invoke.kind === 'queue') {
        t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
          FunctionName: { Ref: fnId(name) },
          BatchSize: invoke.batchSize,
          FunctionResponseTypes: ['ReportBatchItemFailures'],
          EventSourceArn: fromStateful(),
          ...(invoke.maxConcurrency ? { ScalingConfig: { MaximumConcurrency: invoke.maxConcurrency } } : {}),
        });
      }
      if (invoke.kind === 'dead-letter') {
        const deadLetterQueue = logicalId(s.stacks.stateful.queues[invoke.queue].deadLetterQueue);
        t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
          FunctionName: { Ref: fnId(name) },
          BatchSize: invoke.batchSize,
          FunctionResponseTypes: ['ReportBatchItemFailures'],
          EventSourceArn: { 'Fn::GetStackOutput': Match.objectLike({ OutputName: Match.stringLikeRegexp(deadLetterQueue) }) },
        });
      }
      if (invoke.kind === 'schedule') {
        t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: invoke.expression, Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [fnId(name), 'Arn'] } })] });
      }
      if (invoke.kind === 'queue' || invoke.kind === 'dead-letter' || invoke.kind === 'schedule') {
        t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Errors', Namespace: 'AWS/Lambda', Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnId(name) } }], Threshold: 1 });
      }
    }
  });

  test('alarms: dead-letter queues not empty, API 5xx rate, SES bounce and complaint rates, all to the emailed topic', () => {
    const topic = logicalId(s.stacks.stateless.alarms.topic);
    t.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: arnOf(s.stacks.stateless.alarms.key) });
    t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: s.config.alarmEmail, TopicArn: { Ref: topic } });
    t.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    const dlqName = (queue: IConstruct) => [{ Name: 'QueueName', Value: { 'Fn::GetStackOutput': Match.objectLike({ OutputName: Match.stringLikeRegexp(logicalId(queue)) }) } }];
    const consumed = new Set(specs.flatMap(([, spec]) => (spec.invoke.kind === 'dead-letter' ? [spec.invoke.queue] : [])));
    expect([...consumed]).toEqual(['exports']);
    for (const [name, queue] of Object.entries(s.stacks.stateful.queues)) {
      if (!consumed.has(name as QueueName)) {
        t.hasResourceProperties('AWS::CloudWatch::Alarm', {
          MetricName: 'ApproximateNumberOfMessagesVisible',
          Namespace: 'AWS/SQS',
          Dimensions: dlqName(queue.deadLetterQueue),
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        });
        continue;
      }
      // Its consumer empties it within seconds: messages received count, as well as waiting ones.
      const stat = (metricName: string, statistic: string) =>
        Match.objectLike({ MetricStat: { Metric: { Namespace: 'AWS/SQS', MetricName: metricName, Dimensions: dlqName(queue.deadLetterQueue) }, Period: 300, Stat: statistic }, ReturnData: false });
      t.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmDescription: Match.stringLikeRegexp(`^${name.charAt(0).toUpperCase()}${name.slice(1)} failed: .*exportDeadLetter`),
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        Metrics: Match.arrayWith([
          Match.objectLike({ Expression: 'FILL(visible, 0) + FILL(received, 0)' }),
          stat('ApproximateNumberOfMessagesVisible', 'Maximum'),
          stat('NumberOfMessagesReceived', 'Sum'),
        ]),
      });
    }
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Threshold: ALARMS.api5xxPercent,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: `IF(requests >= ${ALARMS.api5xxMinRequests}, 100 * errors / requests, 0)` }),
        Match.objectLike({ Id: 'errors', MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: '5XXError', Namespace: 'AWS/ApiGateway' }) }) }),
      ]),
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: 'AWS/SES', MetricName: 'Reputation.BounceRate', Threshold: 0.05, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: 'AWS/SES', MetricName: 'Reputation.ComplaintRate', Threshold: 0.001, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    expect([ALARMS.sesBounceRate, ALARMS.sesComplaintRate]).toEqual([0.05, 0.001]);
    for (const alarm of Object.values(t.findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topic }]);
      expect(alarm.Properties.OKActions).toEqual([{ Ref: topic }]);
    }
  });

  test('stays clear of the 500-resource CloudFormation limit as the route table grows', () => {
    // Every template (the four stacks and the route stacks) under the budget, with the counts in the failure.
    const size = (template: Template): number => Object.keys(template.toJSON().Resources).length;
    const counts: Record<string, number> = Object.fromEntries([
      ...Object.entries(s.templates).map(([name, template]) => [name, size(template)]),
      ...s.routeStacks.map(({ stack, template }) => [stack.node.path, size(template)]),
    ]);
    for (const [name, count] of Object.entries(counts)) expect({ name, count, underBudget: count < STACK_RESOURCE_BUDGET }).toEqual({ name, count, underBudget: true });
    // Routes add resources only to route stacks (test/infra/route-api.test.ts grows the table).
    const perRoute = ['AWS::ApiGateway::Method', 'AWS::ApiGateway::Resource'].reduce((n, type) => n + Object.keys(t.findResources(type)).length, 0);
    expect(perRoute).toBe(2); // /api and /api/1.0
  });

  test('functions run outside any VPC (they reach Aurora through the Data API)', () => {
    for (const fn of Object.values(t.findResources('AWS::Lambda::Function'))) expect(fn.Properties.VpcConfig).toBeUndefined();
  });
});

describe('backup stack', () => {
  let t: Template;
  beforeAll(() => {
    t = s.templates.backup;
  });
  const n = () => names(s.config);

  test('the copier: configured from the configuration, DR key by alias ARN (no cross-region reference)', () => {
    const copier = s.stacks.backup.copier;
    t.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: RUNTIME.name,
      Architectures: ['arm64'],
      TracingConfig: { Mode: 'Active' },
      Timeout: SNAPSHOT_COPIER.timeoutSeconds,
      Environment: {
        Variables: Match.objectLike({
          [COPIER_ENV.appName]: s.config.appName,
          [COPIER_ENV.clusterId]: n().clusterIdentifier,
          [COPIER_ENV.drRegion]: s.config.drRegion,
          [COPIER_ENV.snapshotPrefix]: n().snapshotPrefix,
          [COPIER_ENV.intervalHours]: String(s.config.snapshotIntervalHours),
          [COPIER_ENV.retentionDays]: String(s.config.snapshotRetentionDays),
          [COPIER_ENV.maxInFlight]: String(SNAPSHOT_COPIER.maxCopiesInFlight),
          [COPIER_ENV.metricNamespace]: n().metricNamespace,
          [COPIER_ENV.drKmsKeyArn]: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:kms:${s.config.drRegion}:`, { Ref: 'AWS::AccountId' }, `:${n().drKeyAlias}`]] },
        }),
      },
    });
    expect(SNAPSHOT_COPIER.maxCopiesInFlight).toBe(5);
    expect(t.findResources('AWS::Logs::LogGroup')[logicalId(copier.logGroup)]!.Properties.RetentionInDays).toBe(s.config.logRetentionDays);
    const text = JSON.stringify(t.toJSON());
    expect(text).not.toContain(`"StackName":"${s.stacks.dr.stackName}"`);
    expect(text).not.toMatch(new RegExp(`"Region":"${s.config.drRegion}"`));
    expect(text).not.toContain('ExportsReader');
  });

  test('runs on an EventBridge schedule', () => {
    t.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: `rate(${SNAPSHOT_COPIER.scheduleMinutes} minutes)`,
      Targets: [Match.objectLike({ Arn: arnOf(s.stacks.backup.copier.fn) })],
    });
  });

  test('least privilege: snapshots under its prefix in both regions, DR key only through its alias, metrics in its namespace', () => {
    const snapshots = (region: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:rds:${region}:`, { Ref: 'AWS::AccountId' }, `:cluster-snapshot:${n().snapshotPrefix}-*`]] });
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['rds:AddTagsToResource', 'rds:CopyDBClusterSnapshot', 'rds:DeleteDBClusterSnapshot'],
            Resource: [snapshots(s.config.primaryRegion), snapshots(s.config.drRegion)],
          }),
          Match.objectLike({
            Action: 'kms:CreateGrant',
            Condition: { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': n().drKeyAlias }, Bool: { 'kms:GrantIsForAWSResource': 'true' } },
          }),
        ]),
      },
    });
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: [Match.objectLike({ Action: 'cloudwatch:PutMetricData', Condition: { StringEquals: { 'cloudwatch:namespace': n().metricNamespace } } })] },
    });
  });

  test('alarm when the newest DR copy is older than twice the interval (or the metric stops)', () => {
    expect(NEWEST_COPY_AGE_METRIC).toBe(SNAPSHOT_COPIER.metricName);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: n().metricNamespace,
      MetricName: SNAPSHOT_COPIER.metricName,
      Dimensions: [{ Name: 'Cluster', Value: n().clusterIdentifier }],
      Threshold: 2 * s.config.snapshotIntervalHours * 3600,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'breaching',
      AlarmActions: [fromStatelessTopic()],
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Errors', Dimensions: [{ Name: 'FunctionName', Value: ref(s.stacks.backup.copier.fn) }] });
  });

  test('deploys after the DR stack (the key must exist) and the stateful stack', () => {
    expect(s.stacks.backup.dependencies).toEqual(expect.arrayContaining([s.stacks.dr, s.stacks.stateful]));
  });

  const fromStatelessTopic = () => ({ 'Fn::GetStackOutput': Match.objectLike({ StackName: s.stacks.stateless.stackName }) });
});

describe('DR stack', () => {
  let t: Template;
  beforeAll(() => {
    t = s.templates.dr;
  });
  const n = () => names(s.config);

  test('in the DR region', () => {
    expect(s.stacks.dr.region).toBe(s.config.drRegion);
    expect([s.stacks.stateful, s.stacks.stateless, s.stacks.backup].map((st) => st.region)).toEqual(Array(3).fill(s.config.primaryRegion));
  });

  test('KMS key for the copies, with rotation, under the alias the copier uses', () => {
    t.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true, Description: Match.stringLikeRegexp('snapshot copies') });
    t.hasResourceProperties('AWS::KMS::Alias', { AliasName: n().drKeyAlias, TargetKeyId: arnOf(s.stacks.dr.snapshotKey) });
  });

  test('isolated network, DB subnet group (tagged with the security group) and TLS-only parameter group, ready for a restore', () => {
    const zones = s.config.availabilityZones[s.config.drRegion]!;
    t.resourceCountIs('AWS::EC2::Subnet', zones.length);
    for (const zone of zones) t.hasResourceProperties('AWS::EC2::Subnet', { AvailabilityZone: zone, MapPublicIpOnLaunch: false });
    t.resourceCountIs('AWS::EC2::NatGateway', 0);
    t.resourceCountIs('AWS::EC2::InternetGateway', 0);
    const sg = logicalId(s.stacks.dr.network.databaseSecurityGroup);
    t.hasResourceProperties('AWS::RDS::DBSubnetGroup', {
      DBSubnetGroupName: n().restoreSubnetGroup,
      SubnetIds: Match.arrayWith([{ Ref: Match.stringLikeRegexp('isolated') }]),
      Tags: [{ Key: RESTORE_SECURITY_GROUP_TAG, Value: { 'Fn::GetAtt': [sg, 'GroupId'] } }],
    });
    expect(t.findResources('AWS::EC2::SecurityGroup')[sg]!.Properties.SecurityGroupIngress).toBeUndefined();
    t.hasResourceProperties('AWS::RDS::DBClusterParameterGroup', { DBClusterParameterGroupName: n().restoreParameterGroup, Family: DATABASE.parameterGroupFamily, Parameters: { 'rds.force_ssl': '1' } });
  });

  test('its own alarm topic, emailed', () => {
    t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: s.config.alarmEmail });
    t.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
  });
});

describe('checks that run on every synth', () => {
  /** Every acknowledgment in the app (ours and aws-cdk-lib's own): where, which rule, why. */
  const acknowledgments = () => {
    const found: { path: string; id: string; reason: string; onResource: boolean }[] = [];
    for (const construct of s.app.node.findAll()) {
      for (const entry of construct.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
          found.push({ path: construct.node.path, id: id.replace(/^annotation::/i, ''), reason, onResource: CfnResource.isCfnResource(construct) });
        }
      }
    }
    return found;
  };
  /** Ours: made through lib/constructs/nag.ts for this app. */
  const ours = () => ACKNOWLEDGMENTS.filter((a) => a.resource.node.root === s.app).map((a) => ({ path: a.resource.node.path, id: a.id, reason: a.reason }));

  test('cdk-nag AwsSolutions and CloudFormation validation: no unacknowledged finding, warnings included', () => {
    for (const report of s.report.pluginReports) expect({ plugin: report.summary?.pluginName ?? report, violations: report.violations }).toMatchObject({ violations: [] });
  });

  test('every acknowledgment sits on one resource, gives a specific reason, and matches a real finding there', () => {
    const acks = ours();
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) expect(ack.reason.length).toBeGreaterThanOrEqual(MIN_REASON_LENGTH);
    // Nothing else in the app acknowledges these rule sets (no stack-wide or construct-wide ones).
    const ourKeys = new Set(acks.map((a) => `${a.path} ${a.id}`));
    const others = acknowledgments().filter((a) => !ourKeys.has(`${a.path} ${a.id}`));
    expect(others.filter((a) => a.id.startsWith('AwsSolutions-'))).toEqual([]);
    for (const other of others) expect(other).toMatchObject({ onResource: false, path: expect.stringMatching(/\/FlowLog$/) }); // aws-cdk-lib's own, on its FlowLog

    // cdk-nag's raw findings (acknowledgments ignored) are exactly the acknowledged ones: none stale.
    const raw = new AwsSolutionsChecks();
    Object.defineProperty(raw, 'isAcknowledged', { value: () => false });
    const findings = raw.validateScope(s.app).violations.flatMap((v) => v.violatingResources.map((r) => `${r.constructPath} ${v.ruleName}`));
    const nagAcks = acks.filter((a) => a.id.startsWith('AwsSolutions-')).map((a) => `${a.path} ${a.id}`);
    expect([...new Set(findings)].sort()).toEqual([...new Set(nagAcks)].sort());

    // Each CloudFormation validation acknowledgment suppressed a finding on its resource.
    const suppressed = JSON.stringify(s.report.pluginReports.flatMap((r) => r.suppressedViolations ?? []));
    for (const ack of acks.filter((a) => a.id.startsWith('CloudFormation-Validate::'))) expect(suppressed).toContain(`"acknowledgedAt":"${ack.path}"`);
  });

  test('CDK template validation is an error, not a warning (feature flag on, and it fails synth)', async () => {
    expect(cdkJson.context['@aws-cdk/core:validateAgainstDefaultRules']).toBe(true);
    expect(s.app.node.tryGetContext('@aws-cdk/core:validateAgainstDefaultRules')).toBe(true);
    const { App, Stack: CdkStack, CfnResource: Resource } = await import('aws-cdk-lib');
    const bad = new App({ context: { '@aws-cdk/core:validateAgainstDefaultRules': true } });
    new Resource(new CdkStack(bad, 'Bad', { env: { region: 'us-east-1' } }), 'Queue', { type: 'AWS::SQS::Queue', properties: { VisibilityTimeout: 999_999 } });
    expect(() => bad.synth()).toThrow(/VisibilityTimeout/);
  });

  test('synth looks nothing up: no missing context, regions fixed, cdk.json runs the app with tsx', () => {
    expect(s.assembly.manifest.missing ?? []).toEqual([]);
    for (const stack of Object.values(s.stacks)) expect(stack.region).toMatch(/^[a-z]{2}-/);
    expect(cdkJson.app).toBe('npx tsx bin/app.ts');
  });
});
