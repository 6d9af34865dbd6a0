// The HTTP API in the cloud: an API Gateway REST API with exactly the routes of the shared route table
// (lambdas/core/routes.ts), so it serves the same paths as the local gateway. Model routes proxy to the
// model's function; health and server metadata are answered by API Gateway itself; API Gateway's own
// errors (unknown path, wrong method, throttling, too large) come back as the API's JSON error body.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RemovalPolicy } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { modelNameSchema } from '../lambdas/core/model-card';
import { modelRoutes, SERVER_ROUTES, type ModelRoute, type ServerOperation } from '../lambdas/core/routes';
import { PROJECT_ROOT } from './model-image';

export interface ThrottleSettings {
  /** Steady-state requests per second. */
  readonly rateLimit: number;
  /** Largest burst of requests. */
  readonly burstLimit: number;
}

export interface InferenceApiModel {
  /** The model's name: the `{name}` in its routes. */
  readonly name: string;
  /**
   * What answers the model's routes (Lambda proxy integration). For a Lambda model pass its `live` alias
   * (`ModelRelease.alias`): the function itself would be called at $LATEST, bypassing the release. For a
   * SageMaker model pass its proxy function (`SagemakerModel.proxy`): the endpoint's blue/green update is
   * the release, behind the proxy.
   */
  readonly handler: lambda.IFunction;
  /**
   * Throttling of each of the model's routes.
   * @default - the API's defaultThrottle
   */
  readonly throttle?: ThrottleSettings;
}

export interface InferenceApiProps {
  /** The models served, each with its function. */
  readonly models: readonly InferenceApiModel[];
  /**
   * Name of the deployment stage: the first path segment of the URL.
   * @default 'dev'
   */
  readonly stageName?: string;
  /**
   * Name of the REST API.
   * @default - 'mlship-' followed by the stage name
   */
  readonly restApiName?: string;
  /**
   * Throttling of every route without its own, including health and metadata routes.
   * @default { rateLimit: 100, burstLimit: 200 }
   */
  readonly defaultThrottle?: ThrottleSettings;
  /**
   * Version reported by `GET /v2` (server metadata).
   * @default - the version in package.json
   */
  readonly serverVersion?: string;
  /**
   * How long access logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly accessLogRetention?: logs.RetentionDays;
  /**
   * What happens to the access log group when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly accessLogRemovalPolicy?: RemovalPolicy;
}

export const SERVER_NAME = 'mlship';
const JSON_TYPE = 'application/json';
const DEFAULT_THROTTLE: ThrottleSettings = { rateLimit: 100, burstLimit: 200 };

function packageVersion(): string {
  return (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * One JSON object per request. Values are quoted strings ("-" when absent); the error message goes in as
 * messageString, which API Gateway quotes and escapes itself.
 */
function accessLogFormat(): string {
  const F = apigateway.AccessLogField;
  const fields: Record<string, string> = {
    requestId: F.contextRequestId(),
    requestTime: F.contextRequestTime(),
    ip: F.contextIdentitySourceIp(),
    method: F.contextHttpMethod(),
    path: F.contextPath(),
    resourcePath: F.contextResourcePath(),
    status: F.contextStatus(),
    protocol: F.contextProtocol(),
    responseLength: F.contextResponseLength(),
    responseLatency: F.contextResponseLatency(),
    integrationLatency: F.contextIntegrationLatency(),
    integrationStatus: F.contextIntegrationStatus(),
    errorType: F.contextErrorResponseType(),
    xrayTraceId: F.contextXrayTraceId(),
  };
  const quoted = Object.entries(fields).map(([key, value]) => `"${key}":"${value}"`);
  return `{${[...quoted, `"error":${F.contextErrorMessageString()}`].join(',')}}`;
}

function errorTemplate(code: string, message: string): string {
  return JSON.stringify({ error: { code, message } });
}

function validateThrottle(name: string, throttle: ThrottleSettings): void {
  if (!(Number.isFinite(throttle.rateLimit) && throttle.rateLimit >= 0)) {
    throw new Error(`${name}.rateLimit must be a number of requests per second, 0 or more, received ${throttle.rateLimit}`);
  }
  if (!(Number.isInteger(throttle.burstLimit) && throttle.burstLimit >= 0)) {
    throw new Error(`${name}.burstLimit must be an integer, 0 or more, received ${throttle.burstLimit}`);
  }
}

/**
 * A method answered by API Gateway itself with a fixed JSON body. The request template only produces the
 * mock's status; the single default integration response maps any outcome to `status`. Passthrough is
 * NEVER, so a body of a content type without a template gets API Gateway's 415, never an empty 200.
 */
function mockMethod(status: number, body: string, headers: Record<string, string> = {}): { integration: apigateway.MockIntegration; options: apigateway.MethodOptions } {
  const responseParameters = Object.fromEntries(Object.entries(headers).map(([name, value]) => [`method.response.header.${name}`, `'${value}'`]));
  return {
    integration: new apigateway.MockIntegration({
      requestTemplates: { [JSON_TYPE]: JSON.stringify({ statusCode: status }) },
      passthroughBehavior: apigateway.PassthroughBehavior.NEVER,
      integrationResponses: [{ statusCode: String(status), responseTemplates: { [JSON_TYPE]: body }, responseParameters }],
    }),
    options: {
      methodResponses: [{ statusCode: String(status), responseParameters: Object.fromEntries(Object.keys(responseParameters).map((k) => [k, true])) }],
    },
  };
}

/** The REST API serving every model's routes. */
export class InferenceApi extends Construct {
  public readonly api: apigateway.RestApi;
  public readonly accessLogGroup: logs.LogGroup;
  public readonly stageName: string;

  constructor(scope: Construct, id: string, props: InferenceApiProps) {
    super(scope, id);
    const stageName = props.stageName ?? 'dev';
    const defaultThrottle = props.defaultThrottle ?? DEFAULT_THROTTLE;
    if (props.models.length === 0) throw new Error('models must name at least one model, received none');
    if (!/^[A-Za-z0-9_]{1,128}$/.test(stageName)) throw new Error(`stageName must be 1-128 letters, digits or underscores, received '${stageName}'`);
    validateThrottle('defaultThrottle', defaultThrottle);
    const seen = new Set<string>();
    props.models.forEach((model, index) => {
      if (!modelNameSchema.safeParse(model.name).success) {
        throw new Error(`models[${index}].name must be 2-48 lower-case letters, digits or dashes, starting with a letter, received '${model.name}'`);
      }
      if (seen.has(model.name)) throw new Error(`models[${index}].name must be unique, received '${model.name}' twice`);
      seen.add(model.name);
      if (model.throttle) validateThrottle(`models[${index}].throttle`, model.throttle);
    });
    this.stageName = stageName;

    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.accessLogRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.accessLogRemovalPolicy ?? RemovalPolicy.RETAIN,
    });

    // Stage throttling: a default for every method, and one entry per model route ('/path/METHOD'). Model
    // routes publish detailed metrics (Latency, 4XXError, 5XXError per Resource and Method): each model's
    // latency alarm and dashboard read them.
    const methodOptions: Record<string, apigateway.MethodDeploymentOptions> = {};
    for (const model of props.models) {
      const throttle = model.throttle ?? defaultThrottle;
      for (const route of modelRoutes(model.name)) {
        methodOptions[`${route.path}/${route.method}`] = { throttlingRateLimit: throttle.rateLimit, throttlingBurstLimit: throttle.burstLimit, metricsEnabled: true };
      }
    }

    this.api = new apigateway.RestApi(this, 'Api', {
      restApiName: props.restApiName ?? `mlship-${stageName}`,
      description: `mlship inference API (${stageName}): ${props.models.map((m) => m.name).join(', ')}`,
      endpointConfiguration: { types: [apigateway.EndpointType.REGIONAL] },
      // Logging needs the account-level CloudWatch role; the recommended flags stopped creating it by default.
      cloudWatchRole: true,
      deployOptions: {
        stageName,
        tracingEnabled: true,
        throttlingRateLimit: defaultThrottle.rateLimit,
        throttlingBurstLimit: defaultThrottle.burstLimit,
        methodOptions,
        accessLogDestination: new apigateway.LogGroupLogDestination(this.accessLogGroup),
        accessLogFormat: apigateway.AccessLogFormat.custom(accessLogFormat()),
      },
    });

    // The RestApi adds an output of its own (ApiEndpoint<hash>); the stack that owns the API names its outputs.
    this.api.node.tryRemoveChild('Endpoint');

    this.addServerRoutes(props.serverVersion ?? packageVersion());
    for (const model of props.models) this.addModelRoutes(model);
    this.addUnknownModelRoutes(props.models.map((m) => m.name));
    this.addGatewayResponses();
  }

  /** The full URL of a path on the deployed stage, e.g. `urlForPath('/v2/models/x/infer')`. */
  public urlForPath(path: string): string {
    return this.api.urlForPath(path);
  }

  private addServerRoutes(version: string): void {
    const bodies: Record<ServerOperation, string> = {
      live: JSON.stringify({ live: true }),
      ready: JSON.stringify({ ready: true }),
      'server-metadata': JSON.stringify({ name: SERVER_NAME, version, extensions: [] }),
    };
    for (const route of SERVER_ROUTES) {
      const resource = this.api.root.resourceForPath(route.path);
      const { integration, options } = mockMethod(200, bodies[route.operation]);
      resource.addMethod(route.method, integration, options);
      this.addMethodNotAllowed(resource, route.path, [route.method]);
    }
  }

  private addModelRoutes(model: InferenceApiModel): void {
    // One integration per model (its alias ARN in the URI); the invoke permissions are on that alias,
    // each scoped to one method's ARN.
    const integration = new apigateway.LambdaIntegration(model.handler, { proxy: true, allowTestInvoke: false });
    const byPath = new Map<string, ModelRoute[]>();
    for (const route of modelRoutes(model.name)) byPath.set(route.path, [...(byPath.get(route.path) ?? []), route]);
    for (const [path, routes] of byPath) {
      const resource = this.api.root.resourceForPath(path);
      for (const route of routes) resource.addMethod(route.method, integration);
      this.addMethodNotAllowed(resource, path, routes.map((r) => r.method));
    }
  }

  /**
   * ANY catches every method the resource does not declare (API Gateway matches explicit methods first),
   * so a wrong method on a known path gets 405 with an Allow header, as the local gateway answers.
   */
  private addMethodNotAllowed(resource: apigateway.IResource, path: string, allowed: readonly string[]): void {
    const message = `method $context.httpMethod is not allowed on ${path}; use ${allowed.join(' or ')}`;
    const { integration, options } = mockMethod(405, errorTemplate('method_not_allowed', message), { Allow: allowed.join(', ') });
    resource.addMethod('ANY', integration, options);
  }

  /**
   * Model-shaped paths naming a model that is not served get 404 model_not_found rather than
   * route_not_found. Static resources (the served models) take precedence over `{model}`.
   */
  private addUnknownModelRoutes(served: readonly string[]): void {
    const message = `no such model; the models served are ${served.join(', ')}`;
    for (const path of ['/v2/models/{model}', '/v2/models/{model}/ready', '/v2/models/{model}/infer', '/v1/models/{model}']) {
      const { integration, options } = mockMethod(404, errorTemplate('model_not_found', message));
      this.api.root.resourceForPath(path).addMethod('ANY', integration, options);
    }
  }

  private addGatewayResponses(): void {
    const responseHeaders = { 'Content-Type': `'${JSON_TYPE}'` };
    const responses: { id: string; type: apigateway.ResponseType; statusCode?: string; code: string; message: string }[] = [
      { id: 'RouteNotFound', type: apigateway.ResponseType.MISSING_AUTHENTICATION_TOKEN, statusCode: '404', code: 'route_not_found', message: '"no route matches this path; the API serves /v2/models/{name}/infer and /v1/models/{name}:predict"' },
      { id: 'Throttled', type: apigateway.ResponseType.THROTTLED, statusCode: '429', code: 'throttled', message: '"too many requests; retry with backoff"' },
      { id: 'TooLarge', type: apigateway.ResponseType.REQUEST_TOO_LARGE, statusCode: '413', code: 'payload_too_large', message: '"request body is larger than API Gateway accepts; send fewer instances per request"' },
      { id: 'UnsupportedMediaType', type: apigateway.ResponseType.UNSUPPORTED_MEDIA_TYPE, statusCode: '415', code: 'unsupported_media_type', message: '"content-type must be application/json"' },
      { id: 'Default4xx', type: apigateway.ResponseType.DEFAULT_4XX, code: 'invalid_request', message: '$context.error.messageString' },
      { id: 'Default5xx', type: apigateway.ResponseType.DEFAULT_5XX, code: 'internal_error', message: '$context.error.messageString' },
    ];
    for (const r of responses) {
      this.api.addGatewayResponse(r.id, {
        type: r.type,
        statusCode: r.statusCode,
        responseHeaders,
        // The message is either a JSON string literal or $context.error.messageString (already quoted).
        templates: { [JSON_TYPE]: `{"error":{"code":"${r.code}","message":${r.message}}}` },
      });
    }
  }
}
