/**
 * DR region: what a restore needs, ready before it is needed. The KMS key that
 * encrypts the snapshot copies (under an alias the copier builds from the
 * configuration, so no cross-region reference exists), an isolated network with a DB
 * subnet group and a security group (no inbound rules) for the restored cluster, a
 * cluster parameter group with rds.force_ssl, and the region's alarm topic.
 * Termination protected.
 */
import { CfnOutput, RemovalPolicy, Tags } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import type { Construct } from 'constructs';
import { DATABASE, RESTORE_SECURITY_GROUP_TAG, names } from '../config.js';
import { AlarmTopic } from '../constructs/alarm-topic.js';
import { IsolatedNetwork } from '../constructs/isolated-network.js';
import { BaseStack, type BaseStackProps } from './base-stack.js';

export class DrStack extends BaseStack {
  readonly snapshotKey: kms.Key;
  readonly network: IsolatedNetwork;
  readonly subnetGroup: rds.CfnDBSubnetGroup;
  readonly parameterGroup: rds.CfnDBClusterParameterGroup;
  readonly alarms: AlarmTopic;

  constructor(scope: Construct, id: string, props: BaseStackProps) {
    super(scope, id, { terminationProtection: true, description: 'DR region: key for snapshot copies, network ready for a restore', ...props });
    const config = this.config;
    const n = names(config);

    this.snapshotKey = new kms.Key(this, 'SnapshotCopyKey', {
      alias: n.drKeyAlias,
      description: `Encrypts the ${config.appName} cluster snapshot copies and clusters restored from them`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.network = new IsolatedNetwork(this, 'Network', {
      availabilityZones: this.availabilityZones,
      logRetention: config.logRetentionDays as logs.RetentionDays,
      purpose: 'Restored Aurora cluster',
    });
    this.subnetGroup = new rds.CfnDBSubnetGroup(this, 'RestoreSubnetGroup', {
      dbSubnetGroupName: n.restoreSubnetGroup,
      dbSubnetGroupDescription: 'Isolated subnets for a cluster restored from a snapshot copy',
      subnetIds: this.network.vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_ISOLATED }).subnetIds,
    });
    // The restore CLI reads the security group from this tag (it only needs the RDS API).
    Tags.of(this.subnetGroup).add(RESTORE_SECURITY_GROUP_TAG, this.network.databaseSecurityGroup.securityGroupId);

    this.parameterGroup = new rds.CfnDBClusterParameterGroup(this, 'RestoreParameterGroup', {
      dbClusterParameterGroupName: n.restoreParameterGroup,
      description: 'TLS required for every connection (restored cluster)',
      family: DATABASE.parameterGroupFamily,
      parameters: { 'rds.force_ssl': '1' },
    });

    this.alarms = new AlarmTopic(this, 'Alarms', { email: config.alarmEmail, description: `${config.appName} alarms (${this.region})` });

    new CfnOutput(this, 'SnapshotKeyAlias', { value: n.drKeyAlias });
    new CfnOutput(this, 'RestoreSubnetGroupName', { value: n.restoreSubnetGroup });
    new CfnOutput(this, 'RestoreSecurityGroupId', { value: this.network.databaseSecurityGroup.securityGroupId });
  }
}
