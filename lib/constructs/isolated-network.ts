/**
 * The database network, the same in both regions: a VPC with isolated subnets only
 * (no internet or NAT gateway) in fixed availability zones, flow logs, and a security
 * group for the cluster with no inbound rules. Nothing connects to the database over
 * the network: the functions use the Data API, an HTTPS endpoint outside the VPC.
 */
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledge } from './nag.js';

export interface IsolatedNetworkProps {
  availabilityZones: string[];
  logRetention: logs.RetentionDays;
  /** Describes what the security group is for. */
  purpose: string;
}

export class IsolatedNetwork extends Construct {
  readonly vpc: ec2.Vpc;
  readonly databaseSecurityGroup: ec2.SecurityGroup;
  readonly flowLogs: logs.LogGroup;

  constructor(scope: Construct, id: string, props: IsolatedNetworkProps) {
    super(scope, id);
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr('10.80.0.0/16'),
      availabilityZones: props.availabilityZones,
      natGateways: 0,
      subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
      restrictDefaultSecurityGroup: true,
    });
    for (const subnet of this.vpc.isolatedSubnets) {
      acknowledge(
        subnet.node.defaultChild!,
        'CloudFormation-Validate::W3010',
        `Zone ${subnet.availabilityZone} comes from the configuration on purpose: synth needs no lookup and the zones are validated per region in lib/config.ts.`,
      );
    }
    this.flowLogs = new logs.LogGroup(this, 'FlowLogs', { retention: props.logRetention });
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(this.flowLogs),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });
    this.databaseSecurityGroup = new ec2.SecurityGroup(this, 'DatabaseSecurityGroup', {
      vpc: this.vpc,
      description: `${props.purpose}: no inbound rules (Data API only), no outbound traffic`,
      allowAllOutbound: false,
    });
  }
}
