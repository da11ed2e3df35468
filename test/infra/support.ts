/**
 * The infra tests' app: the same stacks, checks and cdk.json context (feature flags and
 * configuration) as `npx cdk synth`, with asset bundling skipped (bundling has its own
 * test). Synthesized once per test file.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { addChecks, buildStacks, type BuildOptions, type Stacks } from '../../lib/app.js';
import { loadConfig, type AppConfig } from '../../lib/config.js';
import { PROJECT_ROOT } from '../../lib/constructs/app-function.js';

export const cdkJson = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as { app: string; context: Record<string, unknown> };

export interface SynthesizedApp {
  app: App;
  config: AppConfig;
  stacks: Stacks;
  assembly: CloudAssembly;
  templates: Record<keyof Stacks, Template>;
  /** CDK's validation report (cdk-nag and CloudFormation validation). */
  report: ValidationReport;
}

export interface ValidationReport {
  title: string;
  pluginReports: {
    summary: { pluginName: string; status: string };
    violations: { ruleName: string; violatingResources?: { resourceLogicalId?: string; constructPath?: string }[] }[];
    suppressedViolations?: { ruleName: string; reason?: string }[];
  }[];
}

export function synthApp(options: { context?: Record<string, unknown>; build?: BuildOptions } = {}): SynthesizedApp {
  const context = { ...cdkJson.context, ...options.context, 'aws:cdk:bundling-stacks': [] };
  const app = new App({ context });
  const config = loadConfig((key) => app.node.tryGetContext(key));
  const stacks = buildStacks(app, config, options.build);
  addChecks(app);
  const assembly = app.synth();
  const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8')) as ValidationReport;
  const templates = {
    dr: Template.fromStack(stacks.dr),
    stateful: Template.fromStack(stacks.stateful),
    stateless: Template.fromStack(stacks.stateless),
    backup: Template.fromStack(stacks.backup),
  };
  return { app, config, stacks, assembly, templates, report };
}

/** The one resource of a type matching `props` (fails unless exactly one). */
export function only(template: Template, type: string, props: object = {}): { id: string; resource: { Properties: Record<string, unknown> } & Record<string, unknown> } {
  const found = Object.entries(template.findResources(type, props ? { Properties: props } : undefined));
  if (found.length !== 1) throw new Error(`expected exactly one ${type} matching ${JSON.stringify(props)}, found ${found.length}`);
  const [id, resource] = found[0]!;
  return { id, resource: resource as never };
}
