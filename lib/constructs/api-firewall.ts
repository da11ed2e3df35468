/**
 * WAFv2 web ACL in front of the API stage: per-IP rate limits (a strict one scoped to
 * the auth routes, a looser one for everything), then the AWS managed common and
 * known-bad-inputs rule groups. Rate-limited callers get Asana's 429 with Retry-After.
 * Every request is logged to a CloudWatch log group with retention, with the
 * Authorization and Cookie headers redacted (they carry session tokens).
 */
import { ArnFormat, Stack } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { AUTH_PATH_PREFIX } from '../config.js';

export interface ApiFirewallProps {
  name: string;
  stage: apigw.Stage;
  /** Requests per IP per 5 minutes on the whole API. */
  apiRateLimit: number;
  /** Requests per IP per 5 minutes under /api/1.0/auth. */
  authRateLimit: number;
  /** The log group WAF writes to; WAF requires the aws-waf-logs- prefix. */
  logGroupName: string;
  logRetention: logs.RetentionDays;
}

/** Headers replaced by REDACTED in the WAF logs: bearer tokens and the session cookie. */
export const REDACTED_HEADERS = ['authorization', 'cookie'];
export const WAF_LOG_GROUP_PREFIX = 'aws-waf-logs-';

/**
 * Rules of the common rule set switched to COUNT, with why:
 * - SizeRestrictions_BODY blocks bodies over 8 KB; the API accepts up to maxBodyBytes
 *   and answers 413 itself.
 * - CrossSiteScripting_BODY blocks HTML in bodies; Asana's html_notes and html_text
 *   fields are HTML by contract.
 */
export const COMMON_RULES_IN_COUNT_MODE = ['SizeRestrictions_BODY', 'CrossSiteScripting_BODY'];

const RATE_WINDOW_SECONDS = 300;
const TOO_MANY = 'too-many-requests';

export class ApiFirewall extends Construct {
  readonly webAcl: wafv2.CfnWebACL;
  readonly logGroup: logs.LogGroup;
  readonly logging: wafv2.CfnLoggingConfiguration;

  constructor(scope: Construct, id: string, props: ApiFirewallProps) {
    super(scope, id);
    if (!props.logGroupName.startsWith(WAF_LOG_GROUP_PREFIX)) throw new Error(`WAF log group ${props.logGroupName} must be named ${WAF_LOG_GROUP_PREFIX}...`);
    const visibility = (metricName: string): wafv2.CfnWebACL.VisibilityConfigProperty => ({
      cloudWatchMetricsEnabled: true,
      sampledRequestsEnabled: true,
      metricName,
    });
    const rateLimited: wafv2.CfnWebACL.RuleActionProperty = {
      block: {
        customResponse: {
          responseCode: 429,
          customResponseBodyKey: TOO_MANY,
          responseHeaders: [{ name: 'Retry-After', value: String(RATE_WINDOW_SECONDS) }],
        },
      },
    };
    const managed = (priority: number, name: string, countOnly: string[] = []): wafv2.CfnWebACL.RuleProperty => ({
      name,
      priority,
      overrideAction: { none: {} },
      statement: {
        managedRuleGroupStatement: {
          vendorName: 'AWS',
          name,
          ...(countOnly.length ? { ruleActionOverrides: countOnly.map((rule) => ({ name: rule, actionToUse: { count: {} } })) } : {}),
        },
      },
      visibilityConfig: visibility(name),
    });

    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      name: props.name,
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: visibility(props.name),
      customResponseBodies: {
        [TOO_MANY]: { contentType: 'APPLICATION_JSON', content: '{"errors":[{"message":"Too many requests; retry later"}]}' },
      },
      rules: [
        {
          name: 'AuthRateLimit',
          priority: 0,
          action: rateLimited,
          statement: {
            rateBasedStatement: {
              limit: props.authRateLimit,
              aggregateKeyType: 'IP',
              evaluationWindowSec: RATE_WINDOW_SECONDS,
              // CONTAINS: on the execute-api URL the path starts with the stage (/prod/api/1.0/auth/...).
              scopeDownStatement: {
                byteMatchStatement: {
                  fieldToMatch: { uriPath: {} },
                  positionalConstraint: 'CONTAINS',
                  searchString: `${AUTH_PATH_PREFIX}/`,
                  textTransformations: [{ priority: 0, type: 'LOWERCASE' }],
                },
              },
            },
          },
          visibilityConfig: visibility('AuthRateLimit'),
        },
        {
          name: 'ApiRateLimit',
          priority: 1,
          action: rateLimited,
          statement: { rateBasedStatement: { limit: props.apiRateLimit, aggregateKeyType: 'IP', evaluationWindowSec: RATE_WINDOW_SECONDS } },
          visibilityConfig: visibility('ApiRateLimit'),
        },
        managed(2, 'AWSManagedRulesCommonRuleSet', COMMON_RULES_IN_COUNT_MODE),
        managed(3, 'AWSManagedRulesKnownBadInputsRuleSet'),
      ],
    });
    new wafv2.CfnWebACLAssociation(this, 'Association', { resourceArn: props.stage.stageArn, webAclArn: this.webAcl.attrArn });

    // Named (WAF only writes to aws-waf-logs-*) and kept on teardown like every log group.
    this.logGroup = new logs.LogGroup(this, 'Logs', { logGroupName: props.logGroupName, retention: props.logRetention });
    this.logging = new wafv2.CfnLoggingConfiguration(this, 'Logging', {
      resourceArn: this.webAcl.attrArn,
      // The log group ARN without the ":*" suffix of LogGroup.logGroupArn, as WAF expects it.
      logDestinationConfigs: [
        Stack.of(this).formatArn({ service: 'logs', resource: 'log-group', resourceName: this.logGroup.logGroupName, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
      ],
      redactedFields: REDACTED_HEADERS.map((name) => ({ singleHeader: { Name: name } })),
    });
  }
}
