/**
 * The REST API built from the route table (lambdas/http/route-table.ts, the same table
 * the local server uses): one API Gateway resource and method per route under
 * /api/1.0, each a Lambda proxy integration to the function of its group
 * (lambdas/http/route-groups.ts: auth, exports or api; one invoke permission per
 * function for the whole API). Access logs, execution logging (errors, never bodies),
 * X-Ray, stage throttling, request validation, and Asana-shaped error bodies for the
 * answers API Gateway gives itself.
 *
 * Every route adds resources (its method, and path resources), so they do not live in
 * the stack that holds the API: they are spread over API_ROUTE_STACKS nested stacks by
 * a stable hash of the route's first path segment (/tasks/... all in one). The REST API,
 * /api/1.0, the authorizer, validator, model, deployment and stage stay in the parent,
 * whose size does not depend on the route count. The nested stacks deploy one after the
 * other: API Gateway's control plane throttles (429) many resources created at once.
 */
import { createHash } from 'node:crypto';
import { Duration, NestedStack } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { functionGroup, type FunctionGroup } from '../../lambdas/http/route-groups.js';
import { apiRoutes } from '../../lambdas/http/route-table.js';
import { API_BASE_PATH, API_ROUTE_STACKS, API_STAGE } from '../config.js';
import { acknowledge } from './nag.js';

/** What API Gateway needs to know about a route. */
export interface ApiRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Relative to /api/1.0, with {name} parameters. */
  path: string;
  operationId: string;
  /** Who may call it; 'none' is public. */
  auth: string;
  /** Whether the route takes a JSON body ({"data": ...}). */
  hasBody: boolean;
  /** The function that serves it (lambdas/http/route-groups.ts). */
  group: FunctionGroup;
}

/** The deployed routes of the route table, as API Gateway sees them. */
export function routeTableRoutes(): ApiRoute[] {
  return apiRoutes().map((route) => ({
    method: route.method,
    path: route.path,
    operationId: route.operationId,
    auth: route.auth,
    hasBody: route.request.body !== undefined,
    group: functionGroup(route),
  }));
}

/** The first segment of a route path (/tasks/{task_gid} -> tasks): all its routes share one nested stack. */
export const routeSegment = (path: string): string => path.split('/')[1] ?? '';

/**
 * The nested stack (0 to stacks - 1) that holds the routes under a first path segment.
 * Stable on purpose: a segment never moves while `stacks` stays the same, because moving
 * a path between stacks fails the deployment (API Gateway refuses a path that exists).
 */
export function routeStackOf(segment: string, stacks: number = API_ROUTE_STACKS): number {
  return createHash('sha256').update(segment).digest().readUInt32BE(0) % stacks;
}

export interface RouteApiProps {
  name: string;
  routes: ApiRoute[];
  /** The function of each group that has routes (each route's integration is its group's). */
  handlers: Partial<Record<FunctionGroup, lambda.IFunction>>;
  /**
   * The REQUEST authorizer for routes whose auth is not 'none'. Without it those routes
   * are still authenticated: by the function that serves them, with the same token check.
   */
  authorizer?: lambda.IFunction;
  accessLogs: logs.ILogGroup;
  throttle: { rateLimit: number; burstLimit: number };
  /** Nested stacks the routes are spread over (default API_ROUTE_STACKS). */
  routeStacks?: number;
}

/** An Asana error envelope as an API Gateway response template (`message` is VTL). */
const errorTemplate = (message: string) => ({ 'application/json': `{"errors":[{"message":${message}}]}` });

export class RouteApi extends Construct {
  readonly api: apigw.RestApi;
  readonly methods: apigw.Method[] = [];
  readonly authorizer: apigw.RequestAuthorizer | undefined;
  /** The nested stacks that hold the routes, by index (only those that hold any). */
  readonly routeStacks = new Map<number, NestedStack>();

  constructor(scope: Construct, id: string, props: RouteApiProps) {
    super(scope, id);
    if (props.routes.length === 0) throw new Error('The route table has no API routes');
    for (const route of props.routes) {
      if (!props.handlers[route.group]) throw new Error(`No function serves the ${route.group} routes (${route.operationId}, ${route.method} ${route.path}, is one)`);
    }

    this.api = new apigw.RestApi(this, 'Api', {
      restApiName: props.name,
      description: 'Asana-compatible task API (routes from lambdas/http/route-table.ts)',
      endpointConfiguration: { types: [apigw.EndpointType.REGIONAL] },
      // Uploads (POST /attachments) reach the function base64-encoded and byte-exact;
      // without this API Gateway would hand their bytes over as UTF-8 text.
      binaryMediaTypes: ['multipart/form-data'],
      // Execution logging needs the account-level CloudWatch role of API Gateway.
      cloudWatchRole: true,
      deployOptions: {
        stageName: API_STAGE,
        accessLogDestination: new apigw.LogGroupLogDestination(props.accessLogs),
        accessLogFormat: apigw.AccessLogFormat.custom(
          JSON.stringify({
            requestId: apigw.AccessLogField.contextRequestId(),
            time: apigw.AccessLogField.contextRequestTime(),
            ip: apigw.AccessLogField.contextIdentitySourceIp(),
            method: apigw.AccessLogField.contextHttpMethod(),
            // The route template (/api/1.0/tasks/{task_gid}), not the path with ids.
            resource: apigw.AccessLogField.contextResourcePath(),
            status: apigw.AccessLogField.contextStatus(),
            bytes: apigw.AccessLogField.contextResponseLength(),
            latencyMs: apigw.AccessLogField.contextResponseLatency(),
            integrationLatencyMs: apigw.AccessLogField.contextIntegrationLatency(),
            waf: apigw.AccessLogField.contextWafResponseCode(),
            error: apigw.AccessLogField.contextErrorMessage(),
            traceId: apigw.AccessLogField.contextXrayTraceId(),
          }),
        ),
        // Errors only, and never request or response bodies (tokens, personal data).
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        metricsEnabled: true,
        tracingEnabled: true,
        throttlingRateLimit: props.throttle.rateLimit,
        throttlingBurstLimit: props.throttle.burstLimit,
      },
    });
    acknowledge(
      this.api.node.findChild('CloudWatchRole'),
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      'API Gateway execution logging requires this account-level role; the AWS managed policy is the documented one for it.',
    );

    const validator = this.api.addRequestValidator('Validator', {
      requestValidatorName: 'parameters-and-body',
      validateRequestParameters: true,
      validateRequestBody: true,
    });
    // The full schema is zod's job in the function; the edge only checks the envelope.
    const envelope = this.api.addModel('DataEnvelope', {
      contentType: 'application/json',
      modelName: 'DataEnvelope',
      description: 'An Asana request body: a JSON object with "data"',
      schema: { schema: apigw.JsonSchemaVersion.DRAFT4, type: apigw.JsonSchemaType.OBJECT, required: ['data'], properties: { data: {} } },
    });

    // One integration per function, and one permission per function for the whole API:
    // per-method permissions would outgrow a function's 20 KB resource policy as the route
    // table grows.
    const integrations = new Map<FunctionGroup, apigw.LambdaIntegration>();
    const integrationOf = (group: FunctionGroup): apigw.LambdaIntegration => {
      let integration = integrations.get(group);
      if (!integration) integrations.set(group, (integration = new apigw.LambdaIntegration(props.handlers[group]!, { proxy: true, scopePermissionToMethod: false })));
      return integration;
    };

    // No identity sources and no caching: a cached REQUEST authorizer answers 401 by
    // itself when an identity source is missing, which would break cookie-only GETs
    // (permalinks opened in a browser tab). Uncached, it sees every request.
    // Only when some route needs a caller (an authorizer no method uses cannot be deployed).
    const needsCaller = props.routes.some((route) => route.auth !== 'none');
    this.authorizer =
      props.authorizer && needsCaller
        ? new apigw.RequestAuthorizer(this, 'Authorizer', {
            handler: props.authorizer,
            identitySources: [],
            resultsCacheTtl: Duration.seconds(0),
          })
        : undefined;

    const stackCount = props.routeStacks ?? API_ROUTE_STACKS;
    const base = this.api.root.resourceForPath(API_BASE_PATH);
    const bySegment = new Map<string, ApiRoute[]>();
    // Sorted, so that the deployment's hash (and so a redeploy) depends on the routes, not their order.
    const sorted = [...props.routes].sort((a, b) => (a.path === b.path ? a.method.localeCompare(b.method) : a.path < b.path ? -1 : 1));
    for (const route of sorted) {
      const segment = routeSegment(route.path);
      if (!segment) throw new Error(`Route ${route.method} ${route.path} has no path segment under ${API_BASE_PATH}`);
      bySegment.set(segment, [...(bySegment.get(segment) ?? []), route]);
    }
    const segmentsOf = new Map<number, string[]>();
    for (const segment of [...bySegment.keys()].sort()) {
      const index = routeStackOf(segment, stackCount);
      segmentsOf.set(index, [...(segmentsOf.get(index) ?? []), segment]);
    }
    let previous: NestedStack | undefined;
    for (const index of [...segmentsOf.keys()].sort((a, b) => a - b)) {
      const segments = segmentsOf.get(index)!;
      const stack = new NestedStack(this, `Routes${index}`, {
        description: `API routes under ${API_BASE_PATH}/ (part ${index + 1} of ${stackCount}): ${segments.join(', ')}`,
      });
      if (previous) stack.nestedStackResource!.addResourceDependency(previous.nestedStackResource!);
      previous = stack;
      this.routeStacks.set(index, stack);
      for (const segment of segments) {
        const top = new apigw.Resource(stack, segment, { parent: base, pathPart: segment });
        for (const route of bySegment.get(segment)!) this.addRoute(route, route.path === `/${segment}` ? top : top.resourceForPath(route.path.slice(segment.length + 2)), { integration: integrationOf(route.group), validator, envelope });
      }
    }

    // Answers API Gateway gives without calling the function, in Asana's error shape.
    this.api.addGatewayResponse('UnknownRoute', {
      type: apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN, // what REST APIs answer for a path or verb they do not have
      statusCode: '404',
      templates: errorTemplate('"Not Found"'),
    });
    this.api.addGatewayResponse('Throttled', {
      type: apigw.ResponseType.THROTTLED,
      statusCode: '429',
      responseHeaders: { 'Retry-After': "'1'" },
      templates: errorTemplate('"Too many requests; retry later"'),
    });
    this.api.addGatewayResponse('Default4xx', { type: apigw.ResponseType.DEFAULT_4XX, templates: errorTemplate('$context.error.messageString') });
    this.api.addGatewayResponse('Default5xx', {
      type: apigw.ResponseType.DEFAULT_5XX,
      templates: errorTemplate('"Internal error (request id $context.requestId)"'),
    });
  }

  /** One route: its method on its resource, with validation and (unless public) the authorizer. */
  private addRoute(route: ApiRoute, resource: apigw.IResource, shared: { integration: apigw.Integration; validator: apigw.IRequestValidator; envelope: apigw.IModel }): void {
    const pathParameters = [...route.path.matchAll(/\{([^}+]+)\+?\}/g)].map((match) => match[1]!);
    const authorized = route.auth !== 'none' && this.authorizer !== undefined;
    const method = resource.addMethod(route.method, shared.integration, {
      operationName: route.operationId,
      requestValidator: shared.validator,
      requestParameters: Object.fromEntries(pathParameters.map((name) => [`method.request.path.${name}`, true])),
      ...(route.hasBody ? { requestModels: { 'application/json': shared.envelope } } : {}),
      ...(authorized ? { authorizer: this.authorizer!, authorizationType: apigw.AuthorizationType.CUSTOM } : {}),
    });
    this.methods.push(method);
    if (authorized) {
      acknowledge(
        method,
        'AwsSolutions-COG4',
        `${route.operationId} uses the Lambda authorizer: sessions and service accounts are the API's own opaque tokens, not Cognito.`,
      );
      return;
    }
    const why =
      route.auth === 'none'
        ? `${route.operationId} (${route.method} ${route.path}) is public in the route table (auth 'none')`
        : `${route.operationId} (${route.method} ${route.path}) is authenticated by the ${route.group} function itself (auth '${route.auth}', same token check as the authorizer)`;
    acknowledge(method, 'AwsSolutions-APIG4', `${why}; API Gateway adds no authorizer to it.`);
    acknowledge(method, 'AwsSolutions-COG4', `${why}; the API uses its own opaque tokens, not Cognito user pools.`);
  }

  /** The base URL of the API: https://<id>.execute-api.<region>.amazonaws.com/prod/api/1.0 */
  get baseUrl(): string {
    return `${this.api.url}${API_BASE_PATH.slice(1)}`;
  }
}
