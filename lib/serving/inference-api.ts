// The HTTP API in the cloud: an API Gateway REST API with exactly the routes of the shared route table
// (lambdas/core/serving/routes.ts), so it serves the same paths as the local gateway. Model routes proxy to the
// model's function; health and server metadata are answered by API Gateway itself; API Gateway's own
// errors (unknown path, wrong method, throttling, too large, unauthenticated) come back as the API's JSON
// error body.
//
// Access control: every route except the two health checks requires IAM (SigV4) authorization or an API key
// (`authorization`); each key gets its own usage plan (throttle, quota) on the stage. The health checks,
// GET /v2/health/live and /v2/health/ready, stay open on purpose: they are mock integrations answered by API
// Gateway itself with a fixed body (no function runs, no model or data is reached, nothing about the
// deployment is revealed), and load balancers, uptime checks and Route 53 health checks cannot sign requests.
// They are still throttled by the stage default and logged in the access log.
// Over 400 lines: one construct (routes, gateway responses, authorization, throttling, access logs) of one REST API.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { GATEWAY_TIMEOUT_MESSAGE } from '../../lambdas/core/serving/errors';
import { modelNameSchema } from '../../lambdas/core/models/model-card';
import { feedbackRoute, modelRoutes, SERVER_ROUTES, type ModelRoute, type ServerOperation } from '../../lambdas/core/serving/routes';
import { PROJECT_ROOT } from './model-image';

export interface ThrottleSettings {
  /** Steady-state requests per second. */
  readonly rateLimit: number;
  /** Largest burst of requests. */
  readonly burstLimit: number;
}

/** API Gateway's longest integration timeout (a REST API's default quota). */
const MAX_INTEGRATION_TIMEOUT = Duration.seconds(29);

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
  /**
   * How long API Gateway waits for the handler: pass the function's own timeout. The handler is called after
   * API Gateway starts counting, so API Gateway gives up first and a slow model is its 504 `timeout` (the
   * INTEGRATION_TIMEOUT response, the body the local gateway sends), never the 502 of a function that Lambda
   * stopped. At most 29 s.
   * @default - API Gateway's 29 s
   */
  readonly timeout?: Duration;
}

/** An API key of `authorization: 'apiKey'`, with its own usage plan on the stage. */
export interface InferenceApiKey {
  /** Names the key and its usage plan (`<restApiName>-<name>`): 1-64 letters, digits, dashes or underscores. */
  readonly name: string;
  /**
   * Throttling of this key across the stage (its usage plan's).
   * @default - none of its own: the stage's route throttling still applies
   */
  readonly throttle?: ThrottleSettings;
  /**
   * Most requests of this key per period (its usage plan's quota).
   * @default - no quota
   */
  readonly quota?: { readonly limit: number; readonly period: 'DAY' | 'WEEK' | 'MONTH' };
}

/** How callers of the model routes (and of the metadata and unknown-model routes) authenticate. */
export type InferenceApiAuthorization = 'iam' | 'apiKey';

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
  /**
   * How callers authenticate on every route but the health checks: 'iam' (AuthorizationType.IAM: a
   * SigV4-signed request from a principal allowed execute-api:Invoke on the route) or 'apiKey' (an
   * `x-api-key` header holding one of `apiKeys`).
   * @default 'iam'
   */
  readonly authorization?: InferenceApiAuthorization;
  /**
   * The API keys of `authorization: 'apiKey'`, each with its own usage plan bound to the stage.
   * @default - none (required, at least one, when authorization is 'apiKey')
   */
  readonly apiKeys?: readonly InferenceApiKey[];
  /**
   * How long API Gateway's execution logs (errors only; request and response bodies are never logged) are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly executionLogRetention?: logs.RetentionDays;
  /**
   * Whether a WAF web ACL is associated with the stage (by ApiWaf, which the stack adds for api.waf.enabled).
   * Without one, cdk-nag's APIG3 is acknowledged on the stage with the reason; with one, it is not needed.
   * @default false
   */
  readonly webAclAssociated?: boolean;
  /**
   * What answers every model's feedback route, POST /v1/models/{name}/feedback (FeedbackApi.function, Lambda
   * proxy integration), with the same authorization and throttling as the model's routes.
   * @default - no feedback routes
   */
  readonly feedbackHandler?: lambda.IFunction;
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

function validateApiKeys(authorization: InferenceApiAuthorization, keys: readonly InferenceApiKey[]): void {
  if (authorization !== 'iam' && authorization !== 'apiKey') throw new Error(`authorization must be 'iam' or 'apiKey', received '${String(authorization)}'`);
  if (authorization === 'apiKey' && keys.length === 0) throw new Error('apiKeys must name at least one key when authorization is apiKey, received none');
  if (authorization === 'iam' && keys.length > 0) throw new Error(`apiKeys applies only to authorization apiKey; authorization is iam, received ${keys.length} keys`);
  const seen = new Set<string>();
  keys.forEach((key, index) => {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(key.name)) throw new Error(`apiKeys[${index}].name must be 1-64 letters, digits, dashes or underscores, received '${key.name}'`);
    if (seen.has(key.name)) throw new Error(`apiKeys[${index}].name must be unique, received '${key.name}' twice`);
    seen.add(key.name);
    if (key.throttle) validateThrottle(`apiKeys[${index}].throttle`, key.throttle);
    if (key.quota && !(Number.isInteger(key.quota.limit) && key.quota.limit >= 1)) {
      throw new Error(`apiKeys[${index}].quota.limit must be a whole number of requests, 1 or more, received ${key.quota.limit}`);
    }
  });
}

/** Which routes need the caller to authenticate: every one but the two health checks (see the file comment). */
export const OPEN_PATHS: readonly string[] = ['/v2/health/live', '/v2/health/ready'];

/** The REST API serving every model's routes. */
export class InferenceApi extends Construct {
  public readonly api: apigateway.RestApi;
  public readonly accessLogGroup: logs.LogGroup;
  /** API Gateway's execution log group of the stage (`API-Gateway-Execution-Logs_<api id>/<stage>`), created here to set its retention. */
  public readonly executionLogGroup: logs.LogGroup;
  public readonly stageName: string;
  public readonly authorization: InferenceApiAuthorization;
  /** The API keys of `authorization: 'apiKey'`, by key name (empty with IAM). */
  public readonly apiKeys: ReadonlyMap<string, apigateway.IApiKey>;

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
      const timeoutMs = model.timeout?.toMilliseconds();
      if (timeoutMs !== undefined && !(timeoutMs >= 50 && timeoutMs <= MAX_INTEGRATION_TIMEOUT.toMilliseconds())) {
        throw new Error(`models[${index}].timeout must be from 50 ms to 29 s (API Gateway's integration limits), received ${timeoutMs} ms`);
      }
    });
    const authorization = props.authorization ?? 'iam';
    validateApiKeys(authorization, props.apiKeys ?? []);
    this.stageName = stageName;
    this.authorization = authorization;

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
        methodOptions[`${route.path}/${route.method}`] = {
          throttlingRateLimit: throttle.rateLimit,
          throttlingBurstLimit: throttle.burstLimit,
          metricsEnabled: true,
          // A method's own settings replace the stage's, so each repeats the execution logging level.
          loggingLevel: apigateway.MethodLoggingLevel.ERROR,
          dataTraceEnabled: false,
        };
      }
      if (props.feedbackHandler) {
        const route = feedbackRoute(model.name);
        methodOptions[`${route.path}/${route.method}`] = { throttlingRateLimit: throttle.rateLimit, throttlingBurstLimit: throttle.burstLimit, metricsEnabled: true, loggingLevel: apigateway.MethodLoggingLevel.ERROR, dataTraceEnabled: false };
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
        // Execution logs: errors only, never request or response bodies (dataTrace), which hold users' data.
        loggingLevel: apigateway.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
      },
    });
    // API Gateway creates the execution log group itself, without retention; creating it first sets one.
    this.executionLogGroup = new logs.LogGroup(this, 'ExecutionLogs', {
      logGroupName: `API-Gateway-Execution-Logs_${this.api.restApiId}/${stageName}`,
      retention: props.executionLogRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.accessLogRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.api.deploymentStage.node.addDependency(this.executionLogGroup);
    this.acknowledgeStageFindings(props.webAclAssociated ?? false);

    // The RestApi adds an output of its own (ApiEndpoint<hash>); the stack that owns the API names its outputs.
    this.api.node.tryRemoveChild('Endpoint');

    this.addServerRoutes(props.serverVersion ?? packageVersion());
    for (const model of props.models) this.addModelRoutes(model);
    if (props.feedbackHandler) this.addFeedbackRoutes(props.feedbackHandler, props.models.map((m) => m.name));
    this.addUnknownModelRoutes(props.models.map((m) => m.name), props.feedbackHandler !== undefined);
    this.addGatewayResponses();
    this.apiKeys = this.addApiKeys(props.apiKeys ?? [], props.restApiName ?? `mlship-${stageName}`);
  }

  /** Method options of a route: IAM authorization or a required API key, except on the open health checks. */
  private access(path: string): apigateway.MethodOptions {
    if (OPEN_PATHS.includes(path)) return { authorizationType: apigateway.AuthorizationType.NONE };
    return this.authorization === 'iam' ? { authorizationType: apigateway.AuthorizationType.IAM } : { authorizationType: apigateway.AuthorizationType.NONE, apiKeyRequired: true };
  }

  /** Adds a method with the route's access control, and acknowledges the cdk-nag findings that its access control answers. */
  private addMethod(resource: apigateway.IResource, path: string, httpMethod: string, integration: apigateway.Integration, options: apigateway.MethodOptions = {}): apigateway.Method {
    const access = this.access(path);
    const method = resource.addMethod(httpMethod, integration, { ...options, ...access });
    const acknowledgements = [
      {
        id: 'AwsSolutions-COG4',
        reason: access.authorizationType === apigateway.AuthorizationType.NONE && !access.apiKeyRequired
          ? 'Open health check (a mock with a fixed body, no backend): load balancers and uptime checks call it unauthenticated'
          : 'Callers are services, not Cognito users: the route requires IAM (SigV4) authorization or an API key with its usage plan, chosen in the manifest (api.auth)',
      },
    ];
    if (access.authorizationType === apigateway.AuthorizationType.NONE) {
      acknowledgements.push({
        id: 'AwsSolutions-APIG4',
        reason: access.apiKeyRequired
          ? 'api.auth is apiKey: the method requires an x-api-key whose usage plan throttles and meters that caller (API Gateway API keys, not an authorizer)'
          : 'Open health check (GET /v2/health/live or /ready, a mock integration with a fixed body): load balancers and uptime checks cannot sign requests; nothing behind it runs',
      });
    }
    Validations.of(method).acknowledge(...acknowledgements);
    return method;
  }

  /** One API key and usage plan per key: the plan's throttle and quota apply to that key alone, on this stage. */
  private addApiKeys(keys: readonly InferenceApiKey[], prefix: string): Map<string, apigateway.IApiKey> {
    const created = new Map<string, apigateway.IApiKey>();
    keys.forEach((key, index) => {
      // The key's value is generated by API Gateway: it never appears in the template.
      const apiKey = new apigateway.ApiKey(this, `ApiKey${index}`, { apiKeyName: `${prefix}-${key.name}`, description: `mlship ${prefix}: API key ${key.name}` });
      const plan = this.api.addUsagePlan(`UsagePlan${index}`, {
        name: `${prefix}-${key.name}`,
        description: `mlship ${prefix}: throttle and quota of API key ${key.name}`,
        apiStages: [{ api: this.api, stage: this.api.deploymentStage }],
        ...(key.throttle ? { throttle: { rateLimit: key.throttle.rateLimit, burstLimit: key.throttle.burstLimit } } : {}),
        ...(key.quota ? { quota: { limit: key.quota.limit, period: apigateway.Period[key.quota.period] } } : {}),
      });
      plan.addApiKey(apiKey);
      created.set(key.name, apiKey);
    });
    return created;
  }

  /** The stage's cdk-nag findings that are answered elsewhere than on the stage, acknowledged on the stage alone. */
  private acknowledgeStageFindings(webAclAssociated: boolean): void {
    // The web ACL is a construct of its own (ApiWaf) that the stack adds when api.waf.enabled.
    if (!webAclAssociated) {
      Validations.of(this.api.deploymentStage).acknowledge({
        id: 'AwsSolutions-APIG3',
        reason: 'AWS WAF is opt-in (api.waf.enabled, billed per web ACL, rule and request); without it, callers still authenticate (IAM or API key) and every route is throttled by the stage and per key',
      });
    }
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG2',
      reason: 'Request bodies are validated by the model handler against the model card (shape, types, named features, batch size) with the same field-level 400 errors as the local gateway; an API Gateway JSON-schema model would duplicate the card and answer a different error shape. Size is capped at the edge (API Gateway 10 MB, Lambda 6 MB, the handler and the optional WAF rule at api.maxBodyBytes)',
    });
    // The CloudWatch role API Gateway pushes logs with is the AWS managed policy made for it.
    const role = this.api.node.tryFindChild('CloudWatchRole');
    if (role) {
      Validations.of(role).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason: "API Gateway's account-level logging role: AmazonAPIGatewayPushToCloudWatchLogs is the policy AWS maintains for exactly this role, and API Gateway needs it to write the access and execution logs",
      });
    }
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
      this.addMethod(resource, route.path, route.method, integration, options);
      this.addMethodNotAllowed(resource, route.path, [route.method]);
    }
  }

  private addModelRoutes(model: InferenceApiModel): void {
    // One integration per model (its alias ARN in the URI); the invoke permissions are on that alias,
    // each scoped to one method's ARN.
    const integration = new apigateway.LambdaIntegration(model.handler, { proxy: true, allowTestInvoke: false, ...(model.timeout ? { timeout: model.timeout } : {}) });
    const byPath = new Map<string, ModelRoute[]>();
    for (const route of modelRoutes(model.name)) byPath.set(route.path, [...(byPath.get(route.path) ?? []), route]);
    for (const [path, routes] of byPath) {
      const resource = this.api.root.resourceForPath(path);
      for (const route of routes) this.addMethod(resource, path, route.method, integration);
      this.addMethodNotAllowed(resource, path, routes.map((r) => r.method));
    }
  }

  /** Every model's feedback route, answered by the one feedback function (it tells the models by the resource path). */
  private addFeedbackRoutes(handler: lambda.IFunction, models: readonly string[]): void {
    const integration = new apigateway.LambdaIntegration(handler, { proxy: true, allowTestInvoke: false });
    for (const model of models) {
      const route = feedbackRoute(model);
      const resource = this.api.root.resourceForPath(route.path);
      this.addMethod(resource, route.path, route.method, integration);
      this.addMethodNotAllowed(resource, route.path, [route.method]);
    }
  }

  /**
   * ANY catches every method the resource does not declare (API Gateway matches explicit methods first),
   * so a wrong method on a known path gets 405 with an Allow header, as the local gateway answers.
   */
  private addMethodNotAllowed(resource: apigateway.IResource, path: string, allowed: readonly string[]): void {
    const message = `method $context.httpMethod is not allowed on ${path}; use ${allowed.join(' or ')}`;
    const { integration, options } = mockMethod(405, errorTemplate('method_not_allowed', message), { Allow: allowed.join(', ') });
    this.addMethod(resource, path, 'ANY', integration, options);
  }

  /**
   * Model-shaped paths naming a model that is not served get 404 model_not_found rather than
   * route_not_found. Static resources (the served models) take precedence over `{model}`.
   */
  private addUnknownModelRoutes(served: readonly string[], feedback: boolean): void {
    const message = `no such model; the models served are ${served.join(', ')}`;
    const paths = ['/v2/models/{model}', '/v2/models/{model}/ready', '/v2/models/{model}/infer', '/v1/models/{model}', ...(feedback ? ['/v1/models/{model}/feedback'] : [])];
    for (const path of paths) {
      // Behind authentication too: the message names every model served.
      const { integration, options } = mockMethod(404, errorTemplate('model_not_found', message));
      this.addMethod(this.api.root.resourceForPath(path), path, 'ANY', integration, options);
    }
  }

  private addGatewayResponses(): void {
    const responseHeaders = { 'Content-Type': `'${JSON_TYPE}'` };
    const responses: { id: string; type: apigateway.ResponseType; statusCode?: string; code: string; message: string }[] = [
      // API Gateway answers MISSING_AUTHENTICATION_TOKEN both for a path it has no route for and, with IAM
      // authorization, for an unsigned request: with IAM the answer says both, as a 403.
      this.authorization === 'iam'
        ? { id: 'RouteNotFound', type: apigateway.ResponseType.MISSING_AUTHENTICATION_TOKEN, statusCode: '403', code: 'missing_authentication', message: '"the request is not signed (this API takes SigV4-signed requests for the service execute-api), or no route matches this path; the API serves /v2/models/{name}/infer and /v1/models/{name}:predict"' }
        : { id: 'RouteNotFound', type: apigateway.ResponseType.MISSING_AUTHENTICATION_TOKEN, statusCode: '404', code: 'route_not_found', message: '"no route matches this path; the API serves /v2/models/{name}/infer and /v1/models/{name}:predict"' },
      { id: 'AccessDenied', type: apigateway.ResponseType.ACCESS_DENIED, statusCode: '403', code: 'forbidden', message: '"the caller is not allowed to invoke this route (execute-api:Invoke)"' },
      { id: 'InvalidSignature', type: apigateway.ResponseType.INVALID_SIGNATURE, statusCode: '403', code: 'invalid_signature', message: '$context.error.messageString' },
      { id: 'ExpiredToken', type: apigateway.ResponseType.EXPIRED_TOKEN, statusCode: '403', code: 'expired_token', message: '$context.error.messageString' },
      { id: 'InvalidApiKey', type: apigateway.ResponseType.INVALID_API_KEY, statusCode: '403', code: 'invalid_api_key', message: '"the x-api-key header is missing or holds no valid key of this API"' },
      { id: 'QuotaExceeded', type: apigateway.ResponseType.QUOTA_EXCEEDED, statusCode: '429', code: 'quota_exceeded', message: '"this API key has used its quota for the period"' },
      { id: 'WafFiltered', type: apigateway.ResponseType.WAF_FILTERED, statusCode: '403', code: 'forbidden', message: '"the request was blocked by the web ACL (rate limit per IP, body size or a managed rule)"' },
      { id: 'Throttled', type: apigateway.ResponseType.THROTTLED, statusCode: '429', code: 'throttled', message: '"too many requests; retry with backoff"' },
      { id: 'TooLarge', type: apigateway.ResponseType.REQUEST_TOO_LARGE, statusCode: '413', code: 'payload_too_large', message: '"request body is larger than API Gateway accepts; send fewer instances per request"' },
      { id: 'UnsupportedMediaType', type: apigateway.ResponseType.UNSUPPORTED_MEDIA_TYPE, statusCode: '415', code: 'unsupported_media_type', message: '"content-type must be application/json"' },
      { id: 'IntegrationTimeout', type: apigateway.ResponseType.INTEGRATION_TIMEOUT, statusCode: '504', code: 'timeout', message: JSON.stringify(GATEWAY_TIMEOUT_MESSAGE) },
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
