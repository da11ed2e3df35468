/**
 * Every deployed function bundles with esbuild using the settings the function construct
 * gives NodejsFunction (ESM, minified, source maps, AWS SDK inside), the migrate bundle
 * carries its SQL files where the migrator looks for them, and each bundle loads in Node.
 * A fast check instead of a deployment.
 *
 * What goes into each bundle is checked against an allow-list (a compromised or
 * unexpected package must not ride into a Lambda unnoticed): our code only from
 * lambdas/, the packages our code imports exactly those listed for the function in
 * BUNDLED_DEPENDENCIES (all declared "dependencies" of package.json), and every other
 * bundled module from a package that package-lock.json resolves for those, installed at
 * the locked version; never a package the lockfile marks dev-only.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync, execSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, stop, type BuildOptions, type Metafile } from 'esbuild';
import { afterBundlingCommands, BUNDLING, esbuildOptions, MIGRATIONS_SOURCE, MIGRATIONS_TARGET, PROJECT_ROOT, V8_FLAGS_ENV, V8_FLAGS_WRAPPER } from '../../lib/constructs/app-function.js';
import { FUNCTIONS, type FunctionSpec } from '../../lib/functions.js';
import { DEPLOYED_ENV } from '../support/deployed-env.js';
import { heapLimitMb } from '../support/v8-heap.js';

/** Every function the stacks deploy: the table plus the backup stack's copier. */
const functions: [string, Pick<FunctionSpec, 'entry' | 'bundleMigrations' | 'v8Flags'>][] = [
  ...(Object.entries(FUNCTIONS) as [string, FunctionSpec][]),
  ['snapshotCopier', { entry: 'lambdas/handlers/snapshot-copier.ts' }],
];


// ---------------------------------------------------------------------------
// The dependency allow-list

/** Logging (Powertools), in every function. */
const LOGGING = ['@aws-lambda-powertools/logger'];
/** Aurora through the Data API: the engine deployed functions use. */
const DATA_API = ['@aws-sdk/client-rds-data', 'kysely', 'kysely-data-api'];
/**
 * The local engines (PGlite for npm start and tests, node-postgres for DATABASE_URL): never
 * in a deployed function (lambdas/db/local-engines.ts is imported by local mode only).
 */
const LOCAL_ENGINES = ['@electric-sql/pglite', 'kysely-pglite-dialect', 'pg'];
/** The ports awsDeps() wires at cold start (lambdas/handlers/shared.ts): S3, the app secret, SES, SQS. */
const AWS_PORTS = ['@aws-sdk/client-s3', '@aws-sdk/client-secrets-manager', '@aws-sdk/client-sesv2', '@aws-sdk/client-sqs', '@aws-sdk/lib-storage', '@aws-sdk/s3-request-presigner'];
/** Everything a function built on awsDeps() bundles: mail is composed with nodemailer, passwords are checked against zxcvbn's common list. */
const AWS_DEPS = [...LOGGING, ...DATA_API, ...AWS_PORTS, 'nodemailer', '@zxcvbn-ts/language-common'];
/** The whole route table (the api function): validation, login detection, CSV, SSO (the SSO settings routes). */
const ROUTE_TABLE = [...AWS_DEPS, 'zod', 'ua-parser-js', 'csv-stringify', '@node-saml/node-saml', 'openid-client'];

/**
 * The packages each function's own code (lambdas/) imports, exactly. Adding an import of
 * a package to a function's code means adding it here, after checking the package:
 * it must be a declared runtime dependency in package.json.
 */
const BUNDLED_DEPENDENCIES: Record<string, string[]> = {
  api: ROUTE_TABLE,
  // Its own routes only (group-auth.ts): the identity routes, SSO logins included; no CSV.
  auth: [...AWS_DEPS, 'zod', 'ua-parser-js', '@node-saml/node-saml', 'openid-client'],
  // Its own routes only (group-exports.ts): the exports and export jobs; no SSO.
  exports: [...AWS_DEPS, 'zod', 'ua-parser-js', 'csv-stringify'],
  authorizer: [...AWS_DEPS, 'zod', 'ua-parser-js'],
  migrate: [...LOGGING, ...DATA_API],
  mailWorker: AWS_DEPS,
  outboxRelay: AWS_DEPS,
  // Purges expired SSO requests (oidc.ts, saml.ts) and login IPs (sessions.ts).
  purge: [...AWS_DEPS, 'ua-parser-js', '@node-saml/node-saml', 'openid-client'],
  // Builds the documents (CSV) and their SHA-256 manifest (hash-wasm: resumable hashing).
  exportWorker: [...AWS_DEPS, 'ua-parser-js', 'csv-stringify', 'hash-wasm'],
  exportDeadLetter: [...AWS_DEPS, 'ua-parser-js', 'csv-stringify', 'hash-wasm'],
  snapshotCopier: [...LOGGING, '@aws-sdk/client-cloudwatch', '@aws-sdk/client-rds'],
};

/**
 * Declared in "dependencies" but never part of a function: the CDK app (bin/, lib/), the
 * TypeScript runner of bin/ scripts, the local mailer's parser (local-mailer.ts) and the
 * local database engines.
 */
const NEVER_BUNDLED = ['aws-cdk-lib', 'constructs', 'tsx', 'mailparser', ...LOCAL_ENGINES];

/**
 * Packages found in bundles outside the lockfile's runtime graph, each with why and how to
 * remove it. Every entry must still occur (none stale); each lets in only itself and its
 * own locked dependencies.
 */
const ACKNOWLEDGED_OUTSIDE_RUNTIME_GRAPH: Record<string, string> = {};

/** Modules a bundle leaves to require() at run time (esbuild could not resolve them): Node built-ins, and these. */
const UNRESOLVED_OPTIONAL_REQUIRES: Record<string, string> = {
  'supports-color':
    "debug (a dependency of @node-saml/node-saml) require()s it in a try/catch as an optional peer; it is dev-only in package-lock.json (jest installs it), so BUNDLING.external keeps it out and debug runs without it, as it does when it is absent",
};

interface LockEntry {
  version?: string;
  dev?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}
const manifest = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
const lock = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package-lock.json'), 'utf8')) as { lockfileVersion: number; packages: Record<string, LockEntry> };

/** The lock key of the package `name` as Node resolves it from the package at `from` ('' is the project): the nearest node_modules up the tree. */
function resolveInLock(from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const candidate = `${base ? `${base}/` : ''}node_modules/${name}`;
    if (lock.packages[candidate]) return candidate;
    if (!base) return undefined;
    const at = base.lastIndexOf('/node_modules/');
    base = at < 0 ? '' : base.slice(0, at);
  }
}

/** Lock keys of the packages and everything they depend on at run time (dependencies, optional ones, required peers). */
function runtimeGraph(keys: Iterable<string>): Set<string> {
  const seen = new Set<string>();
  const queue = [...keys];
  while (queue.length) {
    const key = queue.pop()!;
    if (seen.has(key)) continue;
    seen.add(key);
    const entry = lock.packages[key]!;
    const peers = Object.keys(entry.peerDependencies ?? {}).filter((name) => !entry.peerDependenciesMeta?.[name]?.optional);
    for (const name of [...Object.keys(entry.dependencies ?? {}), ...Object.keys(entry.optionalDependencies ?? {}), ...peers]) {
      const resolved = resolveInLock(key, name);
      if (resolved) queue.push(resolved);
    }
  }
  return seen;
}

/** The package (lock key) a bundled file belongs to: node_modules/a/node_modules/@s/b/x.js -> node_modules/a/node_modules/@s/b. */
const packageOf = (input: string) => /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1];
const nameOf = (key: string) => key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);
const isBuiltin = (path: string) => path.startsWith('node:') || builtinModules.includes(path);

/** The packages our code (inputs outside node_modules) imports, by name. */
function directDependencies(metafile: Metafile): string[] {
  const names = new Set<string>();
  for (const [input, { imports }] of Object.entries(metafile.inputs)) {
    if (packageOf(input)) continue;
    for (const imported of imports) {
      const key = packageOf(imported.path);
      if (key) names.add(nameOf(key));
    }
  }
  return [...names].sort();
}

/** Everything wrong with what a bundle contains, given the packages its code may import; [] when it is clean. */
function bundleProblems(metafile: Metafile, allowed: string[]): string[] {
  const problems: string[] = [];
  const inputs = Object.keys(metafile.inputs);
  for (const input of inputs) if (!packageOf(input) && !input.startsWith('lambdas/')) problems.push(`source outside lambdas/: ${input}`);

  const direct = directDependencies(metafile);
  for (const name of direct) {
    if (!(name in manifest.dependencies)) problems.push(`imported by our code but not a declared runtime dependency: ${name}${name in manifest.devDependencies ? ' (a devDependency)' : ''}`);
    else if (!allowed.includes(name)) problems.push(`imported by our code but not in the function's allow-list: ${name}`);
  }
  for (const name of allowed) if (!direct.includes(name)) problems.push(`in the function's allow-list but no longer imported (remove it): ${name}`);

  const bundled = new Set(inputs.map(packageOf).filter((key): key is string => key !== undefined));
  const acknowledged = Object.keys(ACKNOWLEDGED_OUTSIDE_RUNTIME_GRAPH).filter((key) => bundled.has(key));
  const roots = direct.filter((name) => allowed.includes(name)).map((name) => resolveInLock('', name) ?? `node_modules/${name}`);
  const permitted = runtimeGraph([...roots, ...acknowledged].filter((key) => lock.packages[key]));
  const acknowledgedGraph = runtimeGraph(acknowledged);
  for (const key of [...bundled].sort()) {
    const entry = lock.packages[key];
    if (!entry) {
      problems.push(`bundled but not in package-lock.json: ${key}`);
      continue;
    }
    if (!permitted.has(key)) problems.push(`bundled but not a locked dependency of the allowed packages: ${key}`);
    if (entry.dev && !acknowledgedGraph.has(key)) problems.push(`bundled but dev-only in package-lock.json: ${key}`);
    const installed = (JSON.parse(readFileSync(join(PROJECT_ROOT, key, 'package.json'), 'utf8')) as { version?: string }).version;
    if (installed !== entry.version) problems.push(`installed ${key}@${installed} is not the locked ${entry.version}`);
  }

  for (const { imports } of Object.values(metafile.inputs))
    for (const imported of imports) if (imported.external && !isBuiltin(imported.path) && !(imported.path in UNRESOLVED_OPTIONAL_REQUIRES)) problems.push(`left to require() at run time: ${imported.path}`);
  return problems;
}

let out: string;
const bundles = new Map<string, { dir: string; inputs: string[]; metafile: Metafile }>();

/** The settings the function construct gives NodejsFunction (lib/constructs/app-function.ts). */
const DEPLOYED_BUILD: BuildOptions = {
  absWorkingDir: PROJECT_ROOT, // metafile paths relative to the project
  ...esbuildOptions(),
  metafile: true,
  logLevel: 'silent',
};

beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), 'bundles-'));
  await Promise.all(
    functions.map(async ([name, spec]) => {
      const dir = join(out, name);
      const result = await build({
        ...DEPLOYED_BUILD,
        entryPoints: [join(PROJECT_ROOT, spec.entry)],
        outfile: join(dir, BUNDLING.outputFile),
      });
      for (const command of afterBundlingCommands(spec, PROJECT_ROOT, dir)) execSync(command, { cwd: PROJECT_ROOT });
      bundles.set(name, { dir, inputs: Object.keys(result.metafile!.inputs), metafile: result.metafile! });
    }),
  );
}, 120_000);
afterAll(async () => {
  await stop(); // esbuild's service process would keep the worker alive
  if (out) rmSync(out, { recursive: true, force: true });
});

describe.each(functions)('%s', (name, spec) => {
  test('bundles into one minified ESM file with a source map, AWS SDK included', () => {
    const bundle = bundles.get(name)!;
    const file = join(bundle.dir, BUNDLING.outputFile);
    expect(statSync(file).size).toBeGreaterThan(1000);
    expect(existsSync(`${file}.map`)).toBe(true);
    expect(bundle.inputs.some((input) => input.includes('node_modules/@aws-sdk/client-'))).toBe(true);
    expect(readdirSync(bundle.dir).filter((f) => f !== MIGRATIONS_TARGET && f !== V8_FLAGS_WRAPPER).sort()).toEqual([BUNDLING.outputFile, `${BUNDLING.outputFile}.map`]);
    expect(existsSync(join(bundle.dir, V8_FLAGS_WRAPPER))).toBe(Boolean(spec.v8Flags));
  });

  test('loads in Node as an ES module and exports its handler', () => {
    const file = join(bundles.get(name)!.dir, BUNDLING.outputFile);
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(file)}); console.log(typeof m.handler);`], {
      env: { PATH: process.env.PATH, ...DEPLOYED_ENV },
      encoding: 'utf8',
    });
    expect(output.trim().split('\n').at(-1)).toBe('function');
  });

  test('contains only lambdas/ code, its allowed runtime dependencies and what package-lock.json resolves for them', () => {
    const allowed = BUNDLED_DEPENDENCIES[name];
    expect(allowed).toBeDefined(); // a new function needs its entry in BUNDLED_DEPENDENCIES
    expect(bundleProblems(bundles.get(name)!.metafile, allowed!)).toEqual([]);
    const bundled = new Set(bundles.get(name)!.inputs.map(packageOf).filter(Boolean).map((key) => nameOf(key!)));
    for (const name of NEVER_BUNDLED) expect(bundled.has(name)).toBe(false);
  });

  if (spec.bundleMigrations) {
    test('ships the SQL migrations next to the bundle, where the migrator reads them', () => {
      const shipped = readdirSync(join(bundles.get(name)!.dir, MIGRATIONS_TARGET)).sort();
      const source = readdirSync(join(PROJECT_ROOT, MIGRATIONS_SOURCE)).filter((f) => f.endsWith('.sql')).sort();
      expect(source.length).toBeGreaterThan(0);
      expect(shipped).toEqual(source);
    });
  }

  if (spec.v8Flags) {
    test('ships its exec wrapper, which starts Node with the pinned V8 flags instead of the runtime heap sizes', () => {
      const wrapper = join(bundles.get(name)!.dir, V8_FLAGS_WRAPPER);
      expect(statSync(wrapper).mode & 0o755).toBe(0o755); // the asset zip keeps the mode
      const expected = heapLimitMb(spec.v8Flags!);
      const script = 'const v8 = await import("node:v8"); console.log(JSON.stringify({ limit: v8.getHeapStatistics().heap_size_limit / 2 ** 20, argv: process.argv.slice(1) }))';
      const run = (runtimeArgs: string[], env: Record<string, string>) =>
        JSON.parse(execFileSync(wrapper, [process.execPath, ...runtimeArgs, '--input-type=module', '-e', script, 'event-arg'], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' })) as { limit: number; argv: string[] };
      const pinned = { [V8_FLAGS_ENV]: spec.v8Flags!.join(' ') };
      // As the Node.js runtime starts a 1,024 MB function (its heap sizes on the command line, both spellings), and with none.
      for (const runtimeArgs of [
        ['--expose-gc', '--max-http-header-size', '81920', '--max-semi-space-size=51', '--max-old-space-size=922'],
        ['--max-semi-space-size', '51', '--max_old_space_size', '922'],
        [],
      ]) {
        const started = run(runtimeArgs, pinned);
        expect([runtimeArgs, started.limit]).toEqual([runtimeArgs, expected]);
        expect(started.argv).toEqual(['event-arg']);
      }
      // The runtime's own sizes win without the wrapper's flags (and NODE_OPTIONS could not override them).
      expect(run(['--max-semi-space-size=51', '--max-old-space-size=922'], {}).limit).toBeGreaterThan(922);
      expect(run(['--max-semi-space-size=51', '--max-old-space-size=922'], { NODE_OPTIONS: spec.v8Flags!.join(' ') }).limit).toBeGreaterThan(922);
    });
  }
});

describe('the dependency allow-list', () => {
  test('is derived from package.json: only declared runtime dependencies, and every one of them is bundled somewhere or named as never bundled', () => {
    expect(lock.lockfileVersion).toBeGreaterThanOrEqual(2); // "packages" keyed by install path
    expect(Object.keys(BUNDLED_DEPENDENCIES).sort()).toEqual(functions.map(([name]) => name).sort());
    const listed = new Set(Object.values(BUNDLED_DEPENDENCIES).flat());
    for (const name of listed) {
      expect([name, name in manifest.dependencies]).toEqual([name, true]);
      expect([name, name in manifest.devDependencies]).toEqual([name, false]);
    }
    for (const name of NEVER_BUNDLED) {
      expect([name, name in manifest.dependencies]).toEqual([name, true]);
      expect([name, listed.has(name)]).toEqual([name, false]);
    }
    expect(Object.keys(manifest.dependencies).filter((name) => !listed.has(name) && !NEVER_BUNDLED.includes(name))).toEqual([]);
    // Lockfile and manifest agree on what is a runtime dependency.
    for (const name of Object.keys(manifest.dependencies)) expect([name, lock.packages[`node_modules/${name}`]?.dev ?? false]).toEqual([name, false]);
  });

  test('every acknowledged exception still occurs in some bundle (none stale)', () => {
    const bundled = new Set([...bundles.values()].flatMap((b) => b.inputs.map(packageOf)));
    for (const key of Object.keys(ACKNOWLEDGED_OUTSIDE_RUNTIME_GRAPH)) expect([key, bundled.has(key)]).toEqual([key, true]);
    const required = new Set([...bundles.values()].flatMap((b) => Object.values(b.metafile.inputs).flatMap((i) => i.imports.filter((imp) => imp.external).map((imp) => imp.path))));
    for (const name of Object.keys(UNRESOLVED_OPTIONAL_REQUIRES)) expect([name, required.has(name)]).toEqual([name, true]);
  });

  test('the check fails a bundle into which a devDependency and test code slipped', async () => {
    // A handler as a compromised or careless change would leave it: the real migrate
    // function plus a dev-only package and a test helper.
    const result = await build({
      ...DEPLOYED_BUILD,
      stdin: {
        contents: "import fc from 'fast-check'; import { roleOf } from './test/support/access-model.ts'; export { handler } from './lambdas/handlers/migrate.ts'; export const canary = [fc, roleOf];",
        resolveDir: PROJECT_ROOT,
        sourcefile: 'canary-handler.ts',
        loader: 'ts',
      },
      write: false,
      outfile: join(out, 'canary', BUNDLING.outputFile),
    });
    const problems = bundleProblems(result.metafile!, BUNDLED_DEPENDENCIES.migrate!);
    expect(problems).toEqual(
      expect.arrayContaining([
        'source outside lambdas/: canary-handler.ts',
        'source outside lambdas/: test/support/access-model.ts',
        'imported by our code but not a declared runtime dependency: fast-check (a devDependency)',
        'bundled but not a locked dependency of the allowed packages: node_modules/fast-check',
        'bundled but dev-only in package-lock.json: node_modules/fast-check',
      ]),
    );
    // And one that a runtime dependency reached without being on the function's list.
    const migrate = bundles.get('migrate')!.metafile;
    expect(bundleProblems(migrate, BUNDLED_DEPENDENCIES.migrate!.filter((name) => name !== 'kysely-data-api'))).toEqual(
      expect.arrayContaining(['imported by our code but not in the function\'s allow-list: kysely-data-api', 'bundled but not a locked dependency of the allowed packages: node_modules/kysely-data-api']),
    );
  });
});
