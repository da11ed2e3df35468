#!/usr/bin/env node
/**
 * The CDK app (`npx cdk synth`, `npx cdk deploy --all`). Configuration comes from the
 * cdk.json context; see docs/deploy.md for every key.
 */
import { App } from 'aws-cdk-lib';
import { addChecks, buildStacks } from '../lib/app.js';
import { isPlaceholderEmail, loadConfig } from '../lib/config.js';

const app = new App();
const config = loadConfig((key) => app.node.tryGetContext(key));
for (const [key, value] of [['senderEmail', config.senderEmail], ['alarmEmail', config.alarmEmail]] as const) {
  if (isPlaceholderEmail(value)) {
    console.warn(`warning: ${key} is the placeholder ${value}; set it in cdk.json or with -c ${key}=... before deploying`);
  }
}
buildStacks(app, config);
addChecks(app);
app.synth();
