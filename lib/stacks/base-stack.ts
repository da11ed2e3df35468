/**
 * Every stack of the app: region fixed, account optional, and availability zones
 * taken from the configuration, so that synthesis never looks anything up (it works
 * offline, without credentials, with or without an account set).
 */
import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { AppConfig } from '../config.js';

export interface BaseStackProps extends Omit<StackProps, 'env'> {
  config: AppConfig;
  region: string;
}

export class BaseStack extends Stack {
  readonly config: AppConfig;
  readonly #zones: string[];

  constructor(scope: Construct, id: string, props: BaseStackProps) {
    const { config, region, ...rest } = props;
    super(scope, id, { ...rest, stackName: id, env: { region, ...(config.account ? { account: config.account } : {}) } });
    this.config = config;
    const zones = config.availabilityZones[region];
    if (!zones || zones.length < 2) throw new Error(`No availability zones configured for ${region}`);
    this.#zones = zones;
  }

  /** The configured zones (the default would be a context lookup when the account is known). */
  override get availabilityZones(): string[] {
    return [...this.#zones];
  }
}
