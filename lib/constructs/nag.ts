/**
 * The one way this project acknowledges a cdk-nag (or CloudFormation validation)
 * finding: on exactly one CloudFormation resource, with a reason specific to it.
 * Acknowledging on a stack or a higher-level construct would silence every resource
 * below it, so it is refused here (and test/infra checks no other way is used).
 */
import { Aws, CfnResource, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** Every acknowledgment made through acknowledge(), for the audit in test/infra. */
export const ACKNOWLEDGMENTS: { resource: CfnResource; id: string; reason: string }[] = [];

/** Minimum length of a reason: a sentence that says why, for this resource. */
export const MIN_REASON_LENGTH = 40;

/**
 * @param target a CfnResource, or an L2 construct whose default child is one
 * @param id the rule id, with the finding for multi-finding rules, e.g.
 *   `AwsSolutions-IAM5[Resource::*]`
 */
export function acknowledge(target: IConstruct, id: string, reason: string): void {
  const resource = CfnResource.isCfnResource(target) ? target : target.node.defaultChild;
  if (!resource || !CfnResource.isCfnResource(resource)) {
    throw new Error(`acknowledge(${id}): ${target.node.path} is not a CloudFormation resource; acknowledge on the one resource that has the finding`);
  }
  if (reason.trim().length < MIN_REASON_LENGTH) throw new Error(`acknowledge(${id}) on ${resource.node.path}: give a specific reason (at least ${MIN_REASON_LENGTH} characters)`);
  Validations.of(resource).acknowledge({ id, reason });
  ACKNOWLEDGMENTS.push({ resource, id, reason });
}

/**
 * How cdk-nag prints an ARN built with pseudo parameters in its finding ids, e.g.
 * arn:<AWS::Partition>:s3:::name-<AWS::AccountId>-us-east-1/exports/*
 */
export function nagArn(arn: string): string {
  return arn
    .split(Aws.PARTITION)
    .join('<AWS::Partition>')
    .split(Aws.ACCOUNT_ID)
    .join('<AWS::AccountId>')
    .split(Aws.REGION)
    .join('<AWS::Region>');
}
