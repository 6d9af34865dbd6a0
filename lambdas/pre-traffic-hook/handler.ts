// The CodeDeploy pre-traffic hook as a factory: it invokes the new Lambda version with the golden cases
// of its model card, as API Gateway would (a REST proxy event for POST /v1/models/<name>:predict),
// checks the answer with lambdas/core/release/golden-check, and reports Succeeded or Failed to CodeDeploy.
// It always reports: a hook that throws or times out before reporting leaves the deployment waiting
// for the hook's timeout (up to an hour) instead of rolling back at once.
import { PutLifecycleEventHookExecutionStatusCommand, type CodeDeployClient } from '@aws-sdk/client-codedeploy';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { answersFromV1, checkGoldenCases, type GoldenCheckResult } from '../core/release/golden-check';
import type { ModelCard } from '../core/models/model-card';

/** What CodeDeploy sends a Lambda lifecycle hook. */
export interface LifecycleHookEvent {
  readonly DeploymentId: string;
  readonly LifecycleEventHookExecutionId: string;
}

/** The part of the Lambda context the hook uses: to give up on the invoke in time to still report. */
export interface HookContext {
  getRemainingTimeInMillis(): number;
}

export interface PreTrafficHookDependencies {
  readonly lambda: LambdaClient;
  readonly codeDeploy: CodeDeployClient;
  /** The model card of the version being deployed: its golden cases and tolerance. */
  readonly card: ModelCard;
  /** Qualified ARN of the version being deployed. */
  readonly targetFunctionArn: string;
  readonly logger: Logger;
  /**
   * Time kept back from the hook's own remaining time for reporting, when the invoke is slow.
   * @default 5000
   */
  readonly reportReserveMs?: number;
}

export type PreTrafficHook = (event: LifecycleHookEvent, context?: HookContext) => Promise<void>;

/** The outcome of one hook run, as reported to CodeDeploy. */
export interface HookOutcome {
  readonly status: 'Succeeded' | 'Failed';
  readonly message: string;
  readonly check?: GoldenCheckResult;
}

/** The v1 predict route of a model, as API Gateway's resource path. */
export function predictResource(modelName: string): string {
  return `/v1/models/${modelName}:predict`;
}

/** A REST API (v1 payload) proxy event for POST /v1/models/<name>:predict with every golden input. */
export function goldenRequestEvent(card: ModelCard, requestId: string): APIGatewayProxyEvent {
  const resource = predictResource(card.name);
  const now = Date.now();
  const headers = { 'Content-Type': 'application/json', 'User-Agent': 'mlship-pre-traffic-hook' };
  return {
    resource,
    path: resource,
    httpMethod: 'POST',
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body: JSON.stringify({ instances: card.golden.map((g) => g.input) }),
    isBase64Encoded: false,
    requestContext: {
      accountId: '',
      apiId: 'pre-traffic-hook',
      authorizer: null,
      protocol: 'HTTP/1.1',
      httpMethod: 'POST',
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: '127.0.0.1',
        user: null,
        userAgent: headers['User-Agent'],
        userArn: null,
      },
      path: resource,
      stage: 'pre-traffic-hook',
      requestId,
      requestTimeEpoch: now,
      resourceId: 'pre-traffic-hook',
      resourcePath: resource,
    },
  };
}

/** Why the new version's answer could not be checked at all. */
class HookFailure extends Error {
  override readonly name = 'HookFailure';
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error);
  return text.split('\n')[0]!.slice(0, 500);
}

/** The error message of an API answer `{"error":{"code","message"}}`, or the start of the body. */
function answerError(body: string): string {
  try {
    const error = (JSON.parse(body) as { error?: { code?: unknown; message?: unknown } }).error;
    if (error && typeof error.message === 'string') return `${String(error.code)}: ${error.message.slice(0, 300)}`;
  } catch {
    // not JSON: show the start of it
  }
  return JSON.stringify(body.slice(0, 200));
}

function header(headers: unknown, name: string): string | undefined {
  if (typeof headers !== 'object' || headers === null) return undefined;
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name && value !== undefined && value !== null) return String(value);
  return undefined;
}

export function createPreTrafficHook({ lambda, codeDeploy, card, targetFunctionArn, logger, reportReserveMs = 5000 }: PreTrafficHookDependencies): PreTrafficHook {
  const title = `${card.name} v${card.version}`;

  /** Invokes the target with the golden request; returns the body of its 200 answer. */
  async function invokeTarget(requestId: string, context: HookContext | undefined): Promise<string> {
    const remaining = context?.getRemainingTimeInMillis();
    const abortSignal = remaining === undefined ? undefined : AbortSignal.timeout(Math.max(1000, remaining - reportReserveMs));
    let response;
    try {
      response = await lambda.send(
        new InvokeCommand({ FunctionName: targetFunctionArn, InvocationType: 'RequestResponse', Payload: Buffer.from(JSON.stringify(goldenRequestEvent(card, requestId))) }),
        { abortSignal },
      );
    } catch (error) {
      throw new HookFailure(`invoking ${targetFunctionArn} failed: ${abortSignal?.aborted ? 'no answer before the hook had to report' : firstLine(error)}`);
    }
    const payload = response.Payload ? Buffer.from(response.Payload).toString('utf8') : '';
    if (response.FunctionError) {
      let detail = payload.slice(0, 300);
      try {
        const parsed = JSON.parse(payload) as { errorType?: unknown; errorMessage?: unknown };
        if (typeof parsed.errorMessage === 'string') detail = `${String(parsed.errorType ?? 'Error')}: ${parsed.errorMessage.slice(0, 300)}`;
      } catch {
        // keep the raw start of the payload
      }
      throw new HookFailure(`${targetFunctionArn} raised a function error (${response.FunctionError}): ${detail}`);
    }
    let result: { statusCode?: unknown; headers?: unknown; body?: unknown; isBase64Encoded?: unknown };
    try {
      result = JSON.parse(payload) as typeof result;
    } catch {
      throw new HookFailure(`${targetFunctionArn} answered something that is not an API Gateway proxy result: ${JSON.stringify(payload.slice(0, 200))}`);
    }
    if (typeof result !== 'object' || result === null || typeof result.body !== 'string') {
      throw new HookFailure(`${targetFunctionArn} answered something that is not an API Gateway proxy result: ${JSON.stringify(payload.slice(0, 200))}`);
    }
    const body = result.isBase64Encoded === true ? Buffer.from(result.body, 'base64').toString('utf8') : result.body;
    if (result.statusCode !== 200) throw new HookFailure(`${targetFunctionArn} answered the golden request with status ${String(result.statusCode)}: ${answerError(body)}`);
    // The card must be that of the version answering: a mismatch means the hook was wired to the wrong card.
    const answeredName = header(result.headers, 'x-model-name');
    const answeredVersion = header(result.headers, 'x-model-version');
    if ((answeredName !== undefined && answeredName !== card.name) || (answeredVersion !== undefined && answeredVersion !== String(card.version))) {
      throw new HookFailure(`${targetFunctionArn} serves ${answeredName ?? card.name} v${answeredVersion ?? '?'}, but the hook's model card is ${title}`);
    }
    return body;
  }

  async function check(requestId: string, context: HookContext | undefined): Promise<HookOutcome> {
    // A card without golden cases fails the check as it is: no need to invoke the version.
    if (card.golden.length === 0) {
      const result = await checkGoldenCases(card, async () => []);
      return { status: 'Failed', message: result.message, check: result };
    }
    try {
      const body = await invokeTarget(requestId, context);
      const answers = answersFromV1(body, card);
      const result = await checkGoldenCases(card, async () => answers);
      return { status: result.passed ? 'Succeeded' : 'Failed', message: result.message, check: result };
    } catch (error) {
      return { status: 'Failed', message: `${title} fails the golden check: ${error instanceof HookFailure ? error.message : firstLine(error)}` };
    }
  }

  return async (event, context) => {
    const deploymentId = event?.DeploymentId;
    const lifecycleEventHookExecutionId = event?.LifecycleEventHookExecutionId;
    if (typeof deploymentId !== 'string' || typeof lifecycleEventHookExecutionId !== 'string') {
      // Nothing to report to: this was not invoked by CodeDeploy.
      logger.error('not a CodeDeploy lifecycle event: DeploymentId and LifecycleEventHookExecutionId are required', { event });
      throw new Error('not a CodeDeploy lifecycle event: DeploymentId and LifecycleEventHookExecutionId are required');
    }
    const outcome = await check(lifecycleEventHookExecutionId, context);
    const details = { deploymentId, targetFunctionArn, status: outcome.status, cases: outcome.check?.cases };
    if (outcome.status === 'Succeeded') logger.info(outcome.message, details);
    else logger.error(outcome.message, details);

    try {
      await codeDeploy.send(new PutLifecycleEventHookExecutionStatusCommand({ deploymentId, lifecycleEventHookExecutionId, status: outcome.status }));
    } catch (error) {
      // Throwing lets Lambda retry the (asynchronous) invocation, which reports again.
      logger.error('reporting the hook status to CodeDeploy failed', { deploymentId, status: outcome.status, error: error as Error });
      throw error;
    }
  };
}
