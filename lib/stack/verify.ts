// `mlship verify`: after a cloud deploy, what is really live, compared with what the stack intends.
// The stack's outputs say what each model should be on (per Lambda model the version its `live` alias
// should point at, per SageMaker model the endpoint config its endpoint should run); the services say
// what is. A CodeDeploy rollback leaves the alias on the old version, and a SageMaker blue/green update
// can roll back to the old config while the deploy reports success: both show here as a difference.
// Pure over the injected SDK clients: three read-only calls, no writes.
import { DescribeStacksCommand, type CloudFormationClient, type Stack } from '@aws-sdk/client-cloudformation';
import { GetAliasCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { DescribeEndpointCommand, type SageMakerClient } from '@aws-sdk/client-sagemaker';
import { LIVE_ALIAS, pascalCase } from './stack-names';

export type ModelRuntime = 'lambda' | 'sagemaker';

/** A manifest model, as far as verify needs it. */
export interface VerifyModel {
  readonly name: string;
  readonly runtime: ModelRuntime;
}

/** The clients verify calls; real SDK v3 clients (their region, credentials and endpoint are theirs). */
export interface VerifyClients {
  readonly cloudFormation: CloudFormationClient;
  readonly lambda: LambdaClient;
  readonly sageMaker: SageMakerClient;
}

/** What one model is on, against what the stack intends. */
export interface ModelCheck {
  readonly model: string;
  readonly runtime: ModelRuntime;
  /** True when the live resource is settled on exactly what the stack intends. */
  readonly ok: boolean;
  /** The function name or endpoint name checked; absent when the stack has no output for it. */
  readonly resource?: string;
  /** Lambda: the version the `live` alias should point at. SageMaker: the endpoint config it should run. */
  readonly expected?: string;
  /** Lambda: the alias's FunctionVersion. SageMaker: the endpoint's EndpointConfigName. Absent when not read. */
  readonly actual?: string;
  /** SageMaker only: the EndpointStatus (InService, Updating, RollingBack, Failed...). */
  readonly status?: string;
  /** Lambda only: versions other than `actual` that still get a share of the traffic, with their weight (0..1). */
  readonly additionalVersionWeights?: Readonly<Record<string, number>>;
  /** Why it is not ok, in one line naming both sides; absent when ok. */
  readonly problem?: string;
}

export interface StackCheck {
  readonly name: string;
  /** The region the clients resolved; absent when none could be resolved. */
  readonly region?: string;
  /** CloudFormation's StackStatus; absent when the stack could not be read. */
  readonly status?: string;
  /** True when the stack was read and its last operation completed (CREATE, UPDATE or IMPORT_COMPLETE). */
  readonly ok: boolean;
  readonly problem?: string;
}

export interface VerifyReport {
  /** True when the stack is settled and every model is live as it intends. */
  readonly ok: boolean;
  readonly stack: StackCheck;
  /** One per manifest model, in manifest order; empty when the stack could not be read. */
  readonly models: readonly ModelCheck[];
}

/** The stack outputs verify reads for a model (written by lib/stack/mlship-stack.ts): 'breast-cancer' -> BreastCancer... */
export function stackOutputKeys(modelName: string): { functionName: string; liveVersion: string; endpointName: string; endpointConfigName: string } {
  const id = pascalCase(modelName);
  return { functionName: `${id}FunctionName`, liveVersion: `${id}LiveVersion`, endpointName: `${id}EndpointName`, endpointConfigName: `${id}EndpointConfigName` };
}

/** The IAM actions verify needs, for messages and the README. */
export const VERIFY_PERMISSIONS = ['cloudformation:DescribeStacks', 'lambda:GetAlias', 'sagemaker:DescribeEndpoint'] as const;

const THROTTLING = new Set(['Throttling', 'ThrottlingException', 'TooManyRequestsException', 'RequestLimitExceeded', 'SlowDown', 'ProvisionedThroughputExceededException']);
const ACCESS_DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'AuthorizationError']);
const BAD_CREDENTIALS = new Set(['InvalidClientTokenId', 'UnrecognizedClientException', 'ExpiredToken', 'ExpiredTokenException', 'SignatureDoesNotMatch', 'InvalidSignatureException', 'IncompleteSignature']);

interface SdkError {
  name?: string;
  message?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
  $retryable?: { throttling?: boolean };
}

/** The first line of an error message: SDK messages can carry a second line with hints for developers. */
function firstLine(text: string | undefined): string {
  return (text ?? '').split('\n')[0]!.trim();
}

/**
 * One line for a failed AWS call, `call` naming it (`GetAlias my-fn:live`): access denied, throttling,
 * missing or refused credentials, no region, an unreachable endpoint, or the service's own error.
 */
export function describeAwsError(call: string, error: unknown): string {
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as SdkError;
  const name = e.name ?? 'Error';
  const message = firstLine(e.message) || name;
  const attempts = e.$metadata?.attempts;
  if (ACCESS_DENIED.has(name) || (e.$metadata?.httpStatusCode === 403 && !BAD_CREDENTIALS.has(name))) {
    return `${call}: access denied (${message}); mlship verify needs ${VERIFY_PERMISSIONS.join(', ')}`;
  }
  if (THROTTLING.has(name) || e.$retryable?.throttling === true || e.$metadata?.httpStatusCode === 429) {
    return `${call}: throttled by AWS${attempts && attempts > 1 ? ` after ${attempts} attempts` : ''} (${name}: ${message}); run verify again in a moment`;
  }
  if (BAD_CREDENTIALS.has(name)) return `${call}: AWS refused the credentials (${name}: ${message})`;
  if (name === 'CredentialsProviderError') return `${call}: no AWS credentials found (${message}); set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`;
  if (/region is missing/i.test(message)) return `${call}: no AWS region; pass --region or set AWS_REGION`;
  if (e.code && /^(ECONNREFUSED|ENOTFOUND|ETIMEDOUT|ECONNRESET|EAI_AGAIN|EHOSTUNREACH)$/.test(e.code)) {
    return `${call}: could not reach AWS (${e.code}: ${message})`;
  }
  return `${call} failed (${name}: ${message})`;
}

function errorName(error: unknown): string {
  return typeof error === 'object' && error !== null && 'name' in error ? String((error as { name: unknown }).name) : '';
}

const SETTLED_STACK = new Set(['CREATE_COMPLETE', 'UPDATE_COMPLETE', 'IMPORT_COMPLETE']);

/** Why a stack status means the stack is not settled on its last deploy, or undefined when it is. */
export function stackStatusProblem(name: string, status: string, reason?: string): string | undefined {
  if (SETTLED_STACK.has(status)) return undefined;
  const why = reason ? ` (${firstLine(reason)})` : '';
  if (status.endsWith('_IN_PROGRESS')) return `stack ${name} is ${status}${why}: a deploy or rollback is still running; run verify when it ends`;
  if (status === 'UPDATE_ROLLBACK_COMPLETE') return `stack ${name} is UPDATE_ROLLBACK_COMPLETE${why}: its last update was rolled back, so it still describes the deploy before that`;
  return `stack ${name} is ${status}${why}`;
}

/** Lambda: the `live` alias must point at the stack's `<Model>LiveVersion`, with no weighted second version. */
async function checkLambdaModel(model: VerifyModel, stack: string, outputs: ReadonlyMap<string, string>, client: LambdaClient): Promise<ModelCheck> {
  const keys = stackOutputKeys(model.name);
  const base = { model: model.name, runtime: model.runtime } as const;
  const functionName = outputs.get(keys.functionName);
  // A SageMaker model has a function too (its proxy): the endpoint output is what tells them apart.
  const endpoint = outputs.get(keys.endpointName);
  if (endpoint !== undefined) {
    return { ...base, ok: false, problem: `the manifest says lambda, but stack ${stack} serves it on SageMaker (output ${keys.endpointName} = ${endpoint}): deploy the manifest first` };
  }
  if (functionName === undefined) {
    return { ...base, ok: false, problem: `not in stack ${stack} (no output ${keys.functionName}): deploy the manifest first, or name the right stack` };
  }
  const expected = outputs.get(keys.liveVersion);
  if (expected === undefined) {
    return { ...base, ok: false, resource: functionName, problem: `stack ${stack} has no output ${keys.liveVersion}, so it does not say which version should be live (deployed by an older mlship?): deploy again with this one` };
  }
  const call = `GetAlias ${functionName}:${LIVE_ALIAS}`;
  let alias;
  try {
    alias = await client.send(new GetAliasCommand({ FunctionName: functionName, Name: LIVE_ALIAS }));
  } catch (error) {
    const problem = errorName(error) === 'ResourceNotFoundException'
      ? `${call}: no such function or alias (${firstLine((error as Error).message)}): was it deleted outside the stack?`
      : describeAwsError(call, error);
    return { ...base, ok: false, resource: functionName, expected, problem };
  }
  const actual = alias.FunctionVersion ?? '(none)';
  const weights = Object.entries(alias.RoutingConfig?.AdditionalVersionWeights ?? {}).filter(([, w]) => w > 0);
  const found = { ...base, resource: functionName, expected, actual };
  if (weights.length > 0) {
    const others = weights.reduce((sum, [, w]) => sum + w, 0);
    const split = [`${percent(1 - others)} on ${actual}`, ...weights.map(([v, w]) => `${percent(w)} on ${v}`)].join(', ');
    return { ...found, ok: false, additionalVersionWeights: Object.fromEntries(weights), problem: `${LIVE_ALIAS} is split: ${split}; expected all on ${expected} (a CodeDeploy deployment is still shifting traffic)` };
  }
  if (actual !== expected) {
    const older = Number(actual) < Number(expected);
    return { ...found, ok: false, problem: `${LIVE_ALIAS} -> ${actual}, expected ${expected} (${older ? 'rolled back by CodeDeploy?' : 'moved outside the stack?'})` };
  }
  return { ...found, ok: true };
}

function percent(weight: number): string {
  return `${Math.round(weight * 1000) / 10}%`;
}

const IN_PROGRESS_ENDPOINT = new Set(['Creating', 'Updating', 'SystemUpdating']);

/** SageMaker: the endpoint must be InService on the stack's `<Model>EndpointConfigName`. */
async function checkSagemakerModel(model: VerifyModel, stack: string, outputs: ReadonlyMap<string, string>, client: SageMakerClient): Promise<ModelCheck> {
  const keys = stackOutputKeys(model.name);
  const base = { model: model.name, runtime: model.runtime } as const;
  const endpoint = outputs.get(keys.endpointName);
  if (endpoint === undefined) {
    const fn = outputs.get(keys.functionName);
    const problem = fn !== undefined
      ? `the manifest says sagemaker, but stack ${stack} serves it on Lambda (output ${keys.functionName} = ${fn}): deploy the manifest first`
      : `not in stack ${stack} (no output ${keys.endpointName}): deploy the manifest first, or name the right stack`;
    return { ...base, ok: false, problem };
  }
  const expected = outputs.get(keys.endpointConfigName);
  if (expected === undefined) {
    return { ...base, ok: false, resource: endpoint, problem: `stack ${stack} has no output ${keys.endpointConfigName}, so it does not say which endpoint config should be live (deployed by an older mlship?): deploy again with this one` };
  }
  const call = `DescribeEndpoint ${endpoint}`;
  let described;
  try {
    described = await client.send(new DescribeEndpointCommand({ EndpointName: endpoint }));
  } catch (error) {
    const problem = errorName(error) === 'ValidationException' && /could not find endpoint/i.test((error as Error).message)
      ? `endpoint ${endpoint} does not exist (deleted outside the stack?)`
      : describeAwsError(call, error);
    return { ...base, ok: false, resource: endpoint, expected, problem };
  }
  const actual = described.EndpointConfigName ?? '(none)';
  const status = described.EndpointStatus ?? '(unknown)';
  const pending = described.PendingDeploymentSummary?.EndpointConfigName;
  const reason = described.FailureReason ? `: ${firstLine(described.FailureReason)}` : '';
  const found = { ...base, resource: endpoint, expected, actual, status };
  if (status === 'InService') {
    if (actual === expected) return { ...found, ok: true };
    return { ...found, ok: false, problem: `endpoint ${endpoint} InService on ${actual}, expected ${expected} (rolled back?)${reason}` };
  }
  const on = pending !== undefined && pending !== actual ? `on ${actual}, moving to ${pending}` : `on ${actual}`;
  if (IN_PROGRESS_ENDPOINT.has(status)) {
    return { ...found, ok: false, problem: `endpoint ${endpoint} is ${status} (${on}; expected ${expected}): a deployment is still in progress, run verify when it ends${reason}` };
  }
  if (status === 'RollingBack') {
    return { ...found, ok: false, problem: `endpoint ${endpoint} is RollingBack (${on}; expected ${expected}): the update failed and goes back to the old config${reason}` };
  }
  return { ...found, ok: false, problem: `endpoint ${endpoint} is ${status} (${on}; expected ${expected})${reason || ': no FailureReason given'}` };
}

/** Reads the stack: its status and outputs, or the one line saying why it could not. */
async function readStack(stackName: string, client: CloudFormationClient): Promise<{ check: StackCheck; outputs?: Map<string, string> }> {
  let region: string | undefined;
  try {
    region = await client.config.region();
  } catch {
    // no region: the call below fails and says so
  }
  const where = region ? ` in ${region}` : '';
  let stack: Stack | undefined;
  try {
    const described = await client.send(new DescribeStacksCommand({ StackName: stackName }));
    stack = described.Stacks?.[0];
  } catch (error) {
    const missing = errorName(error) === 'ValidationError' && /does not exist/i.test((error as Error).message);
    const problem = missing
      ? `stack ${stackName} does not exist${where}: deploy it first (npx cdk deploy), or name it with --stack, --stage or --region`
      : describeAwsError(`DescribeStacks ${stackName}`, error);
    return { check: { name: stackName, region, ok: false, problem } };
  }
  if (!stack) return { check: { name: stackName, region, ok: false, problem: `DescribeStacks ${stackName} answered with no stack` } };
  const status = stack.StackStatus ?? '(unknown)';
  const problem = stackStatusProblem(stackName, status, stack.StackStatusReason);
  const outputs = new Map((stack.Outputs ?? []).filter((o) => o.OutputKey !== undefined).map((o) => [o.OutputKey!, o.OutputValue ?? '']));
  return { check: { name: stackName, region, status, ok: problem === undefined, ...(problem ? { problem } : {}) }, outputs };
}

/**
 * Checks every model against the stack: DescribeStacks for the outputs, then per Lambda model GetAlias
 * of `live`, per SageMaker model DescribeEndpoint. Never throws for an AWS error: each becomes the
 * `problem` of the stack or of the model it concerns.
 */
export async function verifyDeployment(stackName: string, models: readonly VerifyModel[], clients: VerifyClients): Promise<VerifyReport> {
  const { check: stack, outputs } = await readStack(stackName, clients.cloudFormation);
  if (!outputs) return { ok: false, stack, models: [] };
  const checks = await Promise.all(
    models.map((model) =>
      model.runtime === 'lambda'
        ? checkLambdaModel(model, stackName, outputs, clients.lambda)
        : checkSagemakerModel(model, stackName, outputs, clients.sageMaker),
    ),
  );
  return { ok: stack.ok && checks.every((c) => c.ok), stack, models: checks };
}
