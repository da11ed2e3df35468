/**
 * Primary region, everything that can be redeployed freely: the functions of
 * lib/functions.ts (the auth, exports and api functions behind the API, authorizer, queue
 * workers, the exports dead-letter consumer, schedules), the REST API built from the
 * route table (its routes in nested stacks, each integrated with its group's function)
 * with its WAF and WAF logs, the migrations trigger, and the alarms (dead-letter queues,
 * i.e. failed exports and undeliverable mail; worker errors; API 5xx rate; SES bounce and
 * complaint rates) on an SNS topic emailed to the alarm address.
 * Lambdas run outside any VPC: they reach Aurora through the Data API.
 */
import { CfnOutput, Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as eventSources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as triggers from 'aws-cdk-lib/triggers';
import type { Construct } from 'constructs';
import { ALARMS, BUCKET_PREFIXES, MAX_RECEIVE_COUNT, WORKER_TIMEOUT_SECONDS, deadLetterWorkerTimeout, names, type BucketPrefix, type QueueName } from '../config.js';
import { AlarmTopic } from '../constructs/alarm-topic.js';
import { ApiFirewall } from '../constructs/api-firewall.js';
import { AppFunction, ENV, type PrefixGrant } from '../constructs/app-function.js';
import { RouteApi, routeTableRoutes, type ApiRoute } from '../constructs/route-api.js';
import { FUNCTION_GROUPS, type FunctionGroup } from '../../lambdas/http/route-groups.js';
import { FUNCTIONS, type FunctionSpec } from '../functions.js';
import { BaseStack, type BaseStackProps } from './base-stack.js';
import type { StatefulStack } from './stateful-stack.js';

export interface StatelessStackProps extends BaseStackProps {
  stateful: StatefulStack;
  /** Defaults to lib/functions.ts. */
  functions?: Record<string, FunctionSpec>;
  /** Defaults to the deployed routes of the route table. */
  routes?: ApiRoute[];
}

const QUEUE_URL_ENV: Record<QueueName, string> = { exports: ENV.exportQueueUrl, mail: ENV.mailQueueUrl };

const pascal = (name: string) => name.charAt(0).toUpperCase() + name.slice(1);

export class StatelessStack extends BaseStack {
  readonly alarms: AlarmTopic;
  readonly functions: Record<string, AppFunction> = {};
  readonly api: RouteApi;
  readonly firewall: ApiFirewall;
  readonly triggers: triggers.Trigger[] = [];

  constructor(scope: Construct, id: string, props: StatelessStackProps) {
    super(scope, id, { description: 'API, functions, WAF and alarms', ...props });
    const config = this.config;
    const { stateful } = props;
    const specs: Record<string, FunctionSpec> = props.functions ?? FUNCTIONS;
    const logRetention = config.logRetentionDays as logs.RetentionDays;
    this.alarms = new AlarmTopic(this, 'Alarms', { email: config.alarmEmail, description: `${config.appName} alarms` });

    const exportBucketName = names(config).exportBucket(this.account, this.region);
    /** Function group -> the function behind API Gateway that serves its routes. */
    const apiFunctions = new Map<FunctionGroup, { name: string; fn: AppFunction }>();
    let authorizerFunction: AppFunction | undefined;
    /** Queue -> the function that consumes its dead-letter queue. */
    const deadLetterConsumers = new Map<QueueName, string>();
    for (const [name, spec] of Object.entries(specs)) {
      const fn = new AppFunction(this, `${pascal(name)}Function`, {
        serviceName: name,
        entry: spec.entry,
        description: spec.description,
        memoryMb: spec.memoryMb,
        ...(spec.v8Flags ? { v8Flags: spec.v8Flags } : {}),
        timeout: Duration.seconds(spec.timeoutSeconds),
        logRetention,
        ...(spec.bundleMigrations ? { bundleMigrations: true } : {}),
      });
      this.functions[name] = fn;

      // What it uses: each bind sets the variable and grants access together.
      const uses = spec.uses;
      if (uses.database) fn.bindDatabase(stateful.database);
      if (uses.exportBucket) {
        const grants: PrefixGrant[] = (Object.entries(uses.exportBucket) as [BucketPrefix, PrefixGrant['access']][]).map(([prefix, access]) => ({ ...BUCKET_PREFIXES[prefix], access }));
        fn.bindBucket(ENV.exportBucket, exportBucketName, stateful.key, grants);
      }
      for (const queue of uses.sendsTo ?? []) fn.bindQueueSender(QUEUE_URL_ENV[queue], stateful.queues[queue].queue, stateful.key);
      if (uses.mail) fn.bindMail(stateful.mail, { send: uses.mail === 'send' });
      if (uses.appSecret) fn.bindAppSecret(stateful.appSecret, stateful.key);
      if (uses.http || spec.awsDeps) {
        fn.setEnv(ENV.maxBodyBytes, String(config.maxBodyBytes));
        if (config.publicBaseUrl) fn.setEnv(ENV.publicBaseUrl, config.publicBaseUrl);
      }
      // Settings awsDeps() reads at cold start: the same values in every function (the export
      // link lifetime matches the bucket's lifecycle rule for exports/).
      if (spec.awsDeps) {
        fn.setEnv(ENV.defaultPlan, config.defaultPlan);
        fn.setEnv(ENV.exportLinkDays, String(config.exportLinkDays));
        this.setRemainingAddresses(fn, stateful);
      }

      // How it is invoked.
      const invoke = spec.invoke;
      switch (invoke.kind) {
        case 'api': {
          if (!(FUNCTION_GROUPS as readonly string[]).includes(invoke.group)) throw new Error(`${name} serves the unknown function group ${invoke.group} (lambdas/http/route-groups.ts has ${FUNCTION_GROUPS.join(', ')})`);
          const other = apiFunctions.get(invoke.group);
          if (other) throw new Error(`Two functions serve the ${invoke.group} routes: ${other.name} and ${name}`);
          apiFunctions.set(invoke.group, { name, fn });
          break;
        }
        case 'authorizer':
          if (authorizerFunction) throw new Error(`Two authorizer functions: ${name} and another`);
          authorizerFunction = fn;
          break;
        case 'deploy':
          this.triggers.push(
            new triggers.Trigger(this, `${pascal(name)}Trigger`, {
              handler: fn.fn,
              invocationType: triggers.InvocationType.REQUEST_RESPONSE,
              timeout: Duration.seconds(Math.min(spec.timeoutSeconds + 60, 900)),
              executeOnHandlerChange: true,
              executeAfter: [fn],
            }),
          );
          break;
        case 'queue': {
          const limit = WORKER_TIMEOUT_SECONDS[invoke.queue];
          if (spec.timeoutSeconds > limit) {
            throw new Error(`${name} times out after ${spec.timeoutSeconds} s, but the ${invoke.queue} queue's visibility timeout is sized for ${limit} s (WORKER_TIMEOUT_SECONDS)`);
          }
          fn.fn.addEventSource(
            new eventSources.SqsEventSource(stateful.queues[invoke.queue].queue, {
              batchSize: invoke.batchSize,
              reportBatchItemFailures: true,
              ...(invoke.maxBatchingWindowSeconds ? { maxBatchingWindow: Duration.seconds(invoke.maxBatchingWindowSeconds) } : {}),
              ...(invoke.maxConcurrency ? { maxConcurrency: invoke.maxConcurrency } : {}),
            }),
          );
          this.errorAlarm(name, fn);
          break;
        }
        case 'dead-letter': {
          const limit = deadLetterWorkerTimeout(invoke.queue);
          if (limit === undefined) {
            throw new Error(`${name} consumes the ${invoke.queue} dead-letter queue, which has no consumer timeout in DEAD_LETTER_WORKER_TIMEOUT_SECONDS (its visibility timeout is the SQS default)`);
          }
          if (spec.timeoutSeconds > limit) {
            throw new Error(`${name} times out after ${spec.timeoutSeconds} s, but the ${invoke.queue} dead-letter queue's visibility timeout is sized for ${limit} s (DEAD_LETTER_WORKER_TIMEOUT_SECONDS)`);
          }
          const other = deadLetterConsumers.get(invoke.queue);
          if (other) throw new Error(`Two functions consume the ${invoke.queue} dead-letter queue: ${other} and ${name}`);
          fn.fn.addEventSource(
            new eventSources.SqsEventSource(stateful.queues[invoke.queue].deadLetterQueue, { batchSize: invoke.batchSize, reportBatchItemFailures: true }),
          );
          deadLetterConsumers.set(invoke.queue, name);
          this.errorAlarm(name, fn);
          break;
        }
        case 'schedule':
          new events.Rule(this, `${pascal(name)}Schedule`, {
            schedule: events.Schedule.expression(invoke.expression),
            targets: [new targets.LambdaFunction(fn.fn, { retryAttempts: 2 })],
          });
          this.errorAlarm(name, fn);
          break;
      }
    }
    // --- API and its firewall --------------------------------------------------------------
    const routes = props.routes ?? routeTableRoutes();
    // Every group with routes has its function (RouteApi checks that too, per route); a
    // function whose group has no route would never be invoked.
    for (const group of FUNCTION_GROUPS) {
      const has = routes.some((route) => route.group === group);
      const served = apiFunctions.get(group);
      if (has && !served) throw new Error(`No function serves the ${group} routes: add one with invoke { kind: 'api', group: '${group}' }`);
      if (!has && served) throw new Error(`${served.name} serves the ${group} routes, but the route table has none`);
    }
    const accessLogs = new logs.LogGroup(this, 'ApiAccessLogs', { retention: logRetention });
    this.api = new RouteApi(this, 'Api', {
      name: `${config.appName}-api`,
      routes,
      handlers: Object.fromEntries([...apiFunctions].map(([group, { fn }]) => [group, fn.fn])),
      ...(authorizerFunction ? { authorizer: authorizerFunction.fn } : {}),
      accessLogs,
      throttle: { rateLimit: config.apiThrottleRateLimit, burstLimit: config.apiThrottleBurstLimit },
    });
    this.firewall = new ApiFirewall(this, 'Firewall', {
      name: `${config.appName}-api`,
      stage: this.api.api.deploymentStage,
      apiRateLimit: config.wafApiRateLimit,
      authRateLimit: config.wafAuthRateLimit,
      logGroupName: names(config).wafLogGroup,
      logRetention,
    });

    // --- Alarms ------------------------------------------------------------------------------
    for (const [name, queue] of Object.entries(stateful.queues) as [QueueName, (typeof stateful.queues)[QueueName]][]) {
      const visible = queue.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' });
      const consumer = deadLetterConsumers.get(name);
      const alarmProps = {
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      };
      const id = `${pascal(name)}DeadLetterQueueNotEmpty`;
      if (!consumer) {
        this.alarms.notify(
          visible.createAlarm(this, id, { alarmDescription: `Messages of the ${name} queue failed ${MAX_RECEIVE_COUNT} times and wait in its dead-letter queue`, ...alarmProps }),
        );
        continue;
      }
      // A consumer empties the queue within seconds, so "visible" alone would rarely be seen:
      // every message it receives is one that failed, and one still visible means it is not
      // keeping up (or its event source is off).
      const arrived = new cloudwatch.MathExpression({
        expression: 'FILL(visible, 0) + FILL(received, 0)',
        usingMetrics: { visible, received: queue.deadLetterQueue.metricNumberOfMessagesReceived({ period: Duration.minutes(5), statistic: 'Sum' }) },
        period: Duration.minutes(5),
        label: `${name} dead-letter messages (waiting or received)`,
      });
      this.alarms.notify(
        arrived.createAlarm(this, id, {
          alarmDescription: `${pascal(name)} failed: messages of the ${name} queue failed ${MAX_RECEIVE_COUNT} times and reached its dead-letter queue (the ${consumer} function marks those jobs failed and emails the requester; check its logs and the ${name} worker's)`,
          ...alarmProps,
        }),
      );
    }

    const period = Duration.minutes(5);
    const serverErrorRate = new cloudwatch.MathExpression({
      expression: `IF(requests >= ${ALARMS.api5xxMinRequests}, 100 * errors / requests, 0)`,
      usingMetrics: {
        errors: this.api.api.metricServerError({ period, statistic: 'Sum' }),
        requests: this.api.api.metricCount({ period, statistic: 'Sum' }),
      },
      period,
      label: 'API 5xx, % of requests',
    });
    this.alarms.notify(
      serverErrorRate.createAlarm(this, 'Api5xxRate', {
        alarmDescription: `At least ${ALARMS.api5xxPercent}% of API requests answered 5xx in two of three 5-minute periods`,
        threshold: ALARMS.api5xxPercent,
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );

    // SES reviews (and can pause) the account at these rates: the account-level metrics.
    const sesRate = (metricName: string) =>
      new cloudwatch.Metric({ namespace: 'AWS/SES', metricName, statistic: 'Maximum', period: Duration.hours(1) });
    this.alarms.notify(
      sesRate('Reputation.BounceRate').createAlarm(this, 'SesBounceRate', {
        alarmDescription: `SES bounce rate at or above ${ALARMS.sesBounceRate * 100}%`,
        threshold: ALARMS.sesBounceRate,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    this.alarms.notify(
      sesRate('Reputation.ComplaintRate').createAlarm(this, 'SesComplaintRate', {
        alarmDescription: `SES complaint rate at or above ${ALARMS.sesComplaintRate * 100}%`,
        threshold: ALARMS.sesComplaintRate,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );

    new CfnOutput(this, 'ApiBaseUrl', { value: this.api.baseUrl, description: 'Base URL of the API (/api/1.0)' });
  }

  /**
   * awsDeps() reads every address at cold start: set those this function was not bound
   * to, without any grant (it never calls them).
   */
  private setRemainingAddresses(fn: AppFunction, stateful: StatefulStack): void {
    const addresses: Record<string, string> = {
      [ENV.dbClusterArn]: stateful.database.clusterArn,
      [ENV.dbSecretArn]: stateful.database.secretArn,
      [ENV.dbName]: stateful.database.databaseName,
      [ENV.exportBucket]: names(this.config).exportBucket(this.account, this.region),
      [ENV.exportQueueUrl]: stateful.queues.exports.queue.queueUrl,
      [ENV.mailQueueUrl]: stateful.queues.mail.queue.queueUrl,
      [ENV.mailFrom]: stateful.mail.from,
      [ENV.sesConfigurationSet]: stateful.mail.configurationSetName,
      [ENV.appSecretArn]: stateful.appSecret.secretArn,
    };
    // (DEFAULT_PLAN, EXPORT_LINK_DAYS, MAX_BODY_BYTES and PUBLIC_BASE_URL are set with the settings.)
    for (const [name, value] of Object.entries(addresses)) if (!fn.hasEnv(name)) fn.setEnv(name, value);
  }

  /** Errors of a worker or scheduled function, to the alarm topic. */
  private errorAlarm(name: string, fn: AppFunction): void {
    this.alarms.notify(
      fn.fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }).createAlarm(this, `${pascal(name)}Errors`, {
        alarmDescription: `The ${name} function failed`,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
  }
}
