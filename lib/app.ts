/**
 * The whole deployment: the four stacks and the checks that run at every synth
 * (cdk-nag AwsSolutions as a validation plugin; CDK's own template validation is
 * turned into errors by the @aws-cdk/core:validateAgainstDefaultRules flag in cdk.json).
 * bin/app.ts and the infra tests both build the app through here.
 */
import { Validations, type App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { names, type AppConfig } from './config.js';
import { BackupStack } from './stacks/backup-stack.js';
import { DrStack } from './stacks/dr-stack.js';
import { StatefulStack } from './stacks/stateful-stack.js';
import { StatelessStack, type StatelessStackProps } from './stacks/stateless-stack.js';

export interface Stacks {
  dr: DrStack;
  stateful: StatefulStack;
  stateless: StatelessStack;
  backup: BackupStack;
}

export interface BuildOptions {
  /** Override the function table or route list of the stateless stack (tests). */
  stateless?: Pick<StatelessStackProps, 'functions' | 'routes'>;
}

export function buildStacks(app: App, config: AppConfig, options: BuildOptions = {}): Stacks {
  const n = names(config);
  const dr = new DrStack(app, n.dr, { config, region: config.drRegion });
  const stateful = new StatefulStack(app, n.stateful, { config, region: config.primaryRegion });
  const stateless = new StatelessStack(app, n.stateless, { config, region: config.primaryRegion, stateful, ...options.stateless });
  const backup = new BackupStack(app, n.backup, { config, region: config.primaryRegion, stateful, alarms: stateless.alarms });
  // The DR key (found by alias) must exist before the first copy; no reference says so.
  backup.addStackDependency(dr, 'the snapshot copier encrypts copies with the DR key');
  return { dr, stateful, stateless, backup };
}

/** cdk-nag's AwsSolutions pack, run on every synth; findings fail the synth. */
export function addChecks(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
}
