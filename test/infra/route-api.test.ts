/**
 * The REST API scales with the route table: routes live in nested stacks chosen by a
 * stable hash of their first path segment, so the stack that holds the API does not grow
 * with routes, a table several times today's still fits every stack under the budget,
 * adding routes never moves existing ones between stacks, and every route change
 * redeploys the stage; each route's integration is the function of its group. Fast: only
 * the API construct, without the app's checks.
 */
import { describe, expect, test } from '@jest/globals';
import { App, Stack, type CfnResource } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { FUNCTION_GROUPS, functionGroup, type FunctionGroup } from '../../lambdas/http/route-groups.js';
import { API_ROUTE_STACKS, STACK_RESOURCE_BUDGET } from '../../lib/config.js';
import { RouteApi, routeSegment, routeStackOf, routeTableRoutes, type ApiRoute } from '../../lib/constructs/route-api.js';
import { deployedMethods, routeStacksOf } from './support.js';

const ROUTES = routeTableRoutes();

function synth(routes: ApiRoute[]) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Api', { env: { region: 'us-east-1' } });
  const fn = (id: string) => new lambda.Function(stack, id, { runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => ({})') });
  const handlers = Object.fromEntries(FUNCTION_GROUPS.map((group) => [group, fn(`${group}Handler`)])) as Record<FunctionGroup, lambda.Function>;
  const api = new RouteApi(stack, 'Api', {
    name: 'test-api',
    routes,
    handlers,
    authorizer: fn('Authorizer'),
    accessLogs: new logs.LogGroup(stack, 'AccessLogs'),
    throttle: { rateLimit: 10, burstLimit: 20 },
  });
  app.synth();
  const parent = Template.fromStack(stack);
  const routeStacks = routeStacksOf(api.routeStacks.values());
  const methods = deployedMethods(parent, routeStacks);
  const count = (template: Template) => Object.keys(template.toJSON().Resources).length;
  return {
    parentCount: count(parent),
    stackCounts: Object.fromEntries(routeStacks.map(({ stack: nested, template }) => [nested.node.id, count(template)])),
    /** Route -> where its method lives (nested stack and logical id). */
    placement: Object.fromEntries(methods.map((m) => [m.route, `${m.stack.stack.node.id} ${Object.entries(m.stack.template.findResources('AWS::ApiGateway::Method')).find(([, r]) => r.Properties.OperationName === m.properties.OperationName)![0]}`])),
    deployment: Object.keys(parent.findResources('AWS::ApiGateway::Deployment'))[0]!,
    methods,
    parent,
    /** Group -> the logical id of its function in the parent. */
    handlerIds: Object.fromEntries(FUNCTION_GROUPS.map((group) => [group, stack.getLogicalId(handlers[group].node.defaultChild as CfnResource)])) as Record<FunctionGroup, string>,
  };
}

/** The route table with `copies` more copies of every route under renamed first segments. */
const grown = (copies: number): ApiRoute[] => [
  ...ROUTES,
  ...Array.from({ length: copies }, (_, i) =>
    ROUTES.map((r) => ({ ...r, path: r.path.replace(/^\/([^/]+)/, `/$1_${i + 2}`), operationId: `${r.operationId}${i + 2}` })),
  ).flat(),
];

describe('routes in nested stacks', () => {
  const today = synth(ROUTES);

  test('a route stays in its stack: the stack is a stable hash of its first segment', () => {
    // Pinned: changing routeStackOf (or API_ROUTE_STACKS) moves deployed routes between
    // nested stacks, which fails the deployment. Change these only with a migration plan.
    expect(API_ROUTE_STACKS).toBe(4);
    expect(Object.fromEntries(['auth', 'tasks', 'projects', 'users', 'workspaces', 'teams', 'health'].map((s) => [s, routeStackOf(s)]))).toEqual({
      auth: 0,
      tasks: 0,
      projects: 1,
      users: 2,
      workspaces: 0,
      teams: 3,
      health: 2,
    });
    for (const route of today.methods) expect(route.stack.stack.node.id).toBe(`Routes${routeStackOf(routeSegment(route.route.split(' ')[1]!.replace('/api/1.0', '')))}`);
  });

  test('every route is deployed, once', () => {
    expect(today.methods.map((m) => m.route).sort()).toEqual(ROUTES.map((r) => `${r.method} /api/1.0${r.path}`).sort());
  });

  test("each route's integration is its group's function, with one invoke permission per function for the whole API", () => {
    expect(new Set(ROUTES.map((r) => r.group))).toEqual(new Set(FUNCTION_GROUPS));
    for (const route of ROUTES) {
      expect(route.group).toBe(functionGroup(route));
      const method = today.methods.find((m) => m.route === `${route.method} /api/1.0${route.path}`)!;
      const uri = JSON.stringify((method.properties.Integration as { Uri: unknown }).Uri);
      const targets = FUNCTION_GROUPS.filter((group) => uri.includes(JSON.stringify({ 'Fn::GetAtt': [today.handlerIds[group], 'Arn'] })));
      expect([route.operationId, targets]).toEqual([route.operationId, [route.group]]);
    }
    for (const group of FUNCTION_GROUPS) today.parent.resourcePropertiesCountIs('AWS::Lambda::Permission', { FunctionName: { 'Fn::GetAtt': [today.handlerIds[group], 'Arn'] } }, 1);
  });

  test('a route whose group has no function is refused', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Api', { env: { region: 'us-east-1' } });
    const handler = new lambda.Function(stack, 'Handler', { runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => ({})') });
    const first = ROUTES.find((r) => r.group === 'auth')!;
    expect(() => new RouteApi(stack, 'Api', { name: 'x', routes: ROUTES, handlers: { api: handler, exports: handler }, accessLogs: new logs.LogGroup(stack, 'Logs'), throttle: { rateLimit: 1, burstLimit: 1 } })).toThrow(
      `No function serves the auth routes (${first.operationId}, ${first.method} ${first.path}, is one)`,
    );
  });

  test('three times as many routes: the parent does not grow and every stack stays under the budget', () => {
    const big = synth(grown(2));
    expect(big.methods.length).toBe(3 * ROUTES.length);
    expect(big.parentCount).toBe(today.parentCount);
    for (const [name, count] of Object.entries(big.stackCounts)) expect({ name, count, underBudget: count < STACK_RESOURCE_BUDGET }).toEqual({ name, count, underBudget: true });
    expect(Object.keys(big.stackCounts).length).toBeLessThanOrEqual(API_ROUTE_STACKS);
  });

  test('adding routes moves no existing route (same stack, same logical id) and redeploys the stage', () => {
    const more = synth([...ROUTES, { method: 'GET', path: '/widgets/{widget_gid}', operationId: 'getWidget', auth: 'user', hasBody: false, group: 'api' }]);
    for (const [route, where] of Object.entries(today.placement)) expect([route, more.placement[route]]).toEqual([route, where]);
    expect(more.deployment).not.toBe(today.deployment);
  });

  test('a changed route redeploys the stage; the same table in another order does not', () => {
    expect(synth([...ROUTES].reverse()).deployment).toBe(today.deployment);
    const first = ROUTES.findIndex((r) => r.auth !== 'none');
    const onePublicMore = ROUTES.map((r, i) => (i === first ? { ...r, auth: 'none' } : r));
    expect(synth(onePublicMore).deployment).not.toBe(today.deployment);
  });
});
