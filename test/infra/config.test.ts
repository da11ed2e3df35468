/**
 * The deployment configuration: documented defaults, values from the command line (-c
 * key=value arrives as strings), clear errors, docs/deploy.md covering every key, and a
 * synth with an account set that still looks nothing up.
 */
import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { CONFIG_KEYS, ConfigError, isPlaceholderEmail, loadConfig, type AppConfig } from '../../lib/config.js';
import { PROJECT_ROOT } from '../../lib/constructs/app-function.js';
import { DrStack } from '../../lib/stacks/dr-stack.js';
import { cdkJson } from './support.js';

const required = { senderEmail: 'no-reply@tasks.example.io', alarmEmail: 'ops@example.io' };
const load = (context: Record<string, unknown>) => loadConfig((key) => ({ ...required, ...context })[key]);
const problemsOf = (context: Record<string, unknown>) => {
  try {
    load(context);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('configuration', () => {
  test('defaults are the documented ones', () => {
    const config = load({});
    const numeric: (keyof AppConfig)[] = [
      'snapshotIntervalHours',
      'snapshotRetentionDays',
      'backupRetentionDays',
      'exportLinkDays',
      'logRetentionDays',
      'wafApiRateLimit',
      'wafAuthRateLimit',
      'apiThrottleRateLimit',
      'apiThrottleBurstLimit',
      'dbMinCapacity',
      'dbMaxCapacity',
      'maxBodyBytes',
    ];
    for (const key of numeric) expect([key, String(config[key])]).toEqual([key, CONFIG_KEYS[key].default]);
    for (const key of ['appName', 'primaryRegion', 'drRegion', 'defaultPlan'] as const) expect(config[key]).toBe(CONFIG_KEYS[key].default);
    expect(config).toMatchObject({ snapshotIntervalHours: 6, backupRetentionDays: 14, exportLinkDays: 7, defaultPlan: 'free' });
    expect(config.availabilityZones).toEqual({ 'us-east-1': ['us-east-1a', 'us-east-1b', 'us-east-1c'], 'us-west-2': ['us-west-2a', 'us-west-2b', 'us-west-2c'] });
    expect(config.account).toBeUndefined();
    expect(config.sesDomain).toBeUndefined();
  });

  test('command-line values (strings) are parsed; zones may be given as JSON', () => {
    const config = load({
      snapshotIntervalHours: '1',
      dbMinCapacity: '0',
      account: '123456789012',
      primaryRegion: 'eu-west-1',
      drRegion: 'eu-central-1',
      availabilityZones: '{"eu-west-1":["eu-west-1b","eu-west-1c"]}',
      sesDomain: 'Tasks.Example.io',
    });
    expect(config).toMatchObject({ snapshotIntervalHours: 1, dbMinCapacity: 0, account: '123456789012', sesDomain: 'tasks.example.io' });
    expect(config.availabilityZones).toEqual({ 'eu-west-1': ['eu-west-1b', 'eu-west-1c'], 'eu-central-1': ['eu-central-1a', 'eu-central-1b', 'eu-central-1c'] });
  });

  test('every key the deployment needs is configurable', () => {
    // App name, account, regions, sender (address or SES domain), alarm address, snapshot
    // interval and retention, backups, export link lifetime, WAF limits, the default plan.
    for (const key of ['appName', 'account', 'primaryRegion', 'drRegion', 'senderEmail', 'sesDomain', 'alarmEmail', 'snapshotIntervalHours', 'snapshotRetentionDays', 'backupRetentionDays', 'exportLinkDays', 'wafApiRateLimit', 'wafAuthRateLimit', 'defaultPlan']) {
      expect(Object.keys(CONFIG_KEYS)).toContain(key);
    }
  });

  test('default plan is free or paid; export links live 1 to 30 days', () => {
    expect(load({ defaultPlan: 'paid' }).defaultPlan).toBe('paid');
    expect(load({ defaultPlan: 'Paid' }).defaultPlan).toBe('paid');
    expect(problemsOf({ defaultPlan: 'enterprise' })).toMatch(/defaultPlan must be one of free, paid, got "enterprise"/);
    expect(load({ exportLinkDays: '30' }).exportLinkDays).toBe(30);
    for (const bad of ['0', '31', '2.5']) expect(problemsOf({ exportLinkDays: bad })).toMatch(/exportLinkDays must be an integer from 1 to 30/);
  });

  test('snapshot interval is 1 to 24 whole hours', () => {
    for (const bad of ['0', '25', '1.5', 'six', -1]) expect(problemsOf({ snapshotIntervalHours: bad })).toMatch(/snapshotIntervalHours must be an integer from 1 to 24/);
    expect(load({ snapshotIntervalHours: 24 }).snapshotIntervalHours).toBe(24);
  });

  test('reports every problem at once, naming the key', () => {
    const message = problemsOf({
      appName: 'Asana_Backend',
      primaryRegion: 'us-east-1',
      drRegion: 'us-east-1',
      senderEmail: 'nobody',
      alarmEmail: undefined,
      backupRetentionDays: 36,
      logRetentionDays: 31,
      dbMinCapacity: 8,
      dbMaxCapacity: 4,
      availabilityZones: { 'us-east-1': ['us-east-1a', 'eu-west-1a'] },
      publicBaseUrl: 'http://tasks.example.io/',
      account: '1234',
    });
    for (const expected of [
      /appName must be 3 to 24 lowercase letters/,
      /drRegion must differ from primaryRegion/,
      /senderEmail must be an email address/,
      /alarmEmail is required/,
      /backupRetentionDays must be an integer from 1 to 35/,
      /logRetentionDays must be one of 1, 3, 5/,
      /dbMaxCapacity \(4\) must be at least dbMinCapacity \(8\)/,
      /availabilityZones.us-east-1 has zones not in us-east-1: eu-west-1a/,
      /publicBaseUrl must be an https origin/,
      /account must be a 12-digit AWS account id/,
    ]) {
      expect(message).toMatch(expected);
    }
  });

  test('writer and reader need two zones; the sender must be on the SES domain', () => {
    expect(problemsOf({ availabilityZones: { 'us-east-1': ['us-east-1a'] } })).toMatch(/needs at least two distinct zones/);
    expect(problemsOf({ sesDomain: 'other.io' })).toMatch(/senderEmail no-reply@tasks.example.io must be an address on sesDomain other.io/);
    expect(problemsOf({ dbMinCapacity: '0.7' })).toMatch(/dbMinCapacity must be a multiple of 0.5/);
  });

  test('cdk.json holds only known keys (besides feature flags), with placeholder addresses flagged', () => {
    const unknown = Object.keys(cdkJson.context).filter((key) => !key.startsWith('@aws-cdk') && !(key in CONFIG_KEYS));
    expect(unknown).toEqual([]);
    const config = loadConfig((key) => cdkJson.context[key]);
    expect(isPlaceholderEmail(config.senderEmail)).toBe(true);
    expect(isPlaceholderEmail('ops@acme.io')).toBe(false);
  });

  test.each(['docs/deploy.md', 'README.md'])('%s documents every key with its default', (file) => {
    const docs = readFileSync(join(PROJECT_ROOT, file), 'utf8');
    for (const [key, doc] of Object.entries(CONFIG_KEYS)) {
      const row = docs.split('\n').find((line) => line.trimStart().startsWith(`| \`${key}\``));
      expect([key, row]).toEqual([key, expect.stringContaining(doc.default)]);
    }
  });

  test('with an account set, synth still looks nothing up and uses the configured zones', () => {
    const app = new App({ context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [] } });
    const config = load({ account: '123456789012', availabilityZones: { 'us-west-2': ['us-west-2b', 'us-west-2d'] } });
    const stack = new DrStack(app, 'dr', { config, region: config.drRegion });
    const assembly = app.synth();
    expect(assembly.manifest.missing ?? []).toEqual([]);
    expect(stack.account).toBe('123456789012');
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::EC2::Subnet', 2);
    template.hasResourceProperties('AWS::EC2::Subnet', { AvailabilityZone: 'us-west-2d' });
  });
});
