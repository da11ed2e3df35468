/**
 * The infra tests' app: the same stacks, checks and cdk.json context (feature flags and
 * configuration) as `npx cdk synth`, with asset bundling skipped (bundling has its own
 * test). Synthesized once per test file.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack, type NestedStack } from 'aws-cdk-lib';
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
  /** The nested stacks that hold the API's routes, with their templates. */
  routeStacks: RouteStack[];
  /** CDK's validation report (cdk-nag and CloudFormation validation). */
  report: ValidationReport;
}

export interface RouteStack {
  stack: NestedStack;
  template: Template;
  /** Parameter name -> the value the parent stack passes (a Ref or GetAtt in the parent). */
  parameters: Record<string, unknown>;
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
  return { app, config, stacks, assembly, templates, routeStacks: routeStacksOf(stacks.stateless.api.routeStacks.values()), report };
}

/** Templates of the route stacks, with what the parent passes to each parameter. */
export function routeStacksOf(nested: Iterable<NestedStack>): RouteStack[] {
  return [...nested].map((stack) => {
    const parent = Template.fromStack(stack.nestedStackParent!).toJSON().Resources as Record<string, { Properties: { Parameters?: Record<string, unknown> } }>;
    const resource = stack.nestedStackResource!;
    const parameters = parent[Stack.of(resource).getLogicalId(resource)]!.Properties.Parameters ?? {};
    return { stack, template: Template.fromStack(stack), parameters };
  });
}

/** A nested template's value with each {Ref: parameter} replaced by what the parent passes. */
export function inParent(value: unknown, parameters: Record<string, unknown>): unknown {
  if (Array.isArray(value)) return value.map((v) => inParent(v, parameters));
  if (value && typeof value === 'object') {
    const ref = (value as { Ref?: unknown }).Ref;
    if (typeof ref === 'string' && Object.keys(value).length === 1 && ref in parameters) return parameters[ref];
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, inParent(v, parameters)]));
  }
  return value;
}

export interface DeployedMethod {
  /** e.g. "GET /api/1.0/tasks/{task_gid}" */
  route: string;
  /** The method's properties as the parent stack's values (parameters resolved). */
  properties: Record<string, unknown>;
  stack: RouteStack;
}

/**
 * Every API Gateway method of the route stacks with its full path: resource parents are
 * followed inside the nested template, then into the parent stack through the parameter.
 */
export function deployedMethods(parentTemplate: Template, routeStacks: RouteStack[]): DeployedMethod[] {
  type ApiResource = { Properties: { ParentId: unknown; PathPart: string } };
  const parentResources = parentTemplate.findResources('AWS::ApiGateway::Resource') as Record<string, ApiResource>;
  const pathIn = (resources: Record<string, ApiResource>, id: unknown, parameters: Record<string, unknown>): string => {
    const ref = (id as { Ref?: string }).Ref;
    if (ref && resources[ref]) return `${pathIn(resources, resources[ref]!.Properties.ParentId, parameters)}/${resources[ref]!.Properties.PathPart}`;
    if (ref && ref in parameters) return pathIn(parentResources, parameters[ref], {});
    return ''; // the API's root resource (GetAtt RootResourceId)
  };
  return routeStacks.flatMap((stack) => {
    const resources = stack.template.findResources('AWS::ApiGateway::Resource') as Record<string, ApiResource>;
    return Object.values(stack.template.findResources('AWS::ApiGateway::Method')).map((method) => {
      const properties = method.Properties as Record<string, unknown>;
      return { route: `${properties.HttpMethod} ${pathIn(resources, properties.ResourceId, stack.parameters) || '/'}`, properties: inParent(properties, stack.parameters) as Record<string, unknown>, stack };
    });
  });
}

/** The one resource of a type matching `props` (fails unless exactly one). */
export function only(template: Template, type: string, props: object = {}): { id: string; resource: { Properties: Record<string, unknown> } & Record<string, unknown> } {
  const found = Object.entries(template.findResources(type, props ? { Properties: props } : undefined));
  if (found.length !== 1) throw new Error(`expected exactly one ${type} matching ${JSON.stringify(props)}, found ${found.length}`);
  const [id, resource] = found[0]!;
  return { id, resource: resource as never };
}
