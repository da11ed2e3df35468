/**
 * The seams between lib/ and lambdas/: lib/ reads only the route table and its function
 * groups (which function serves each route) from lambdas/, lambdas/ never reads lib/ or
 * aws-cdk-lib, and every environment variable the stacks set is one the runtime code
 * reads (names are strings on both sides, so they are compared).
 */
import { describe, expect, test } from '@jest/globals';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ENV, PROJECT_ROOT } from '../../lib/constructs/app-function.js';
import { FUNCTIONS } from '../../lib/functions.js';
import { COPIER_ENV } from '../../lib/stacks/backup-stack.js';

const files = (dir: string): string[] =>
  readdirSync(join(PROJECT_ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    return statSync(join(PROJECT_ROOT, path)).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
const importsOf = (file: string) => [...readFileSync(join(PROJECT_ROOT, file), 'utf8').matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
const read = (file: string) => readFileSync(join(PROJECT_ROOT, file), 'utf8');

describe('boundaries', () => {
  test('lib/ imports nothing from lambdas/ but the route table and its function groups', () => {
    for (const file of files('lib')) {
      for (const spec of importsOf(file).filter((s) => s.includes('lambdas/'))) {
        expect([file, relative(PROJECT_ROOT, join(PROJECT_ROOT, file, '..', spec))]).toEqual([file, expect.stringMatching(/^lambdas\/http\/route-(table|groups)\.js$/)]);
      }
    }
  });

  test('lambdas/ never imports lib/, aws-cdk-lib or constructs', () => {
    for (const file of files('lambdas')) {
      for (const spec of importsOf(file)) {
        expect([file, spec]).not.toEqual([file, expect.stringMatching(/^(aws-cdk-lib|constructs|cdk-nag)(\/|$)/)]);
        if (spec.startsWith('.')) expect([file, relative(PROJECT_ROOT, join(PROJECT_ROOT, file, '..', spec))]).not.toEqual([file, expect.stringMatching(/^(lib|bin)\//)]);
      }
    }
  });

  test('every variable the stacks set is read by the runtime', () => {
    const runtime = [read('lambdas/handlers/shared.ts'), read('lambdas/handlers/migrate.ts')].join('\n');
    const reads = (text: string, name: string) => new RegExp(`'${name}'|process\\.env\\.${name}\\b`).test(text);
    for (const name of Object.values(ENV)) expect([name, reads(runtime, name)]).toEqual([name, true]);
    const copier = read('lambdas/handlers/snapshot-copier.ts');
    for (const name of Object.values(COPIER_ENV)) expect([name, reads(copier, name)]).toEqual([name, true]);
  });

  test('every handler in the function table exists', () => {
    for (const spec of Object.values(FUNCTIONS)) expect(statSync(join(PROJECT_ROOT, spec.entry)).isFile()).toBe(true);
  });
});
