// A Predictor that answers through a SageMaker real-time endpoint running Triton: the proxy Lambda's
// ModelApi decodes and validates the request exactly as for an in-process model, this class sends the
// rows as Triton JSON with InvokeEndpoint and reads the answer (with the version that really answered).
// Failures become the API's named errors: input the model refused is a 400; everything else (the
// endpoint down, slow, missing, throttling, failing) is a 503 whose message names the endpoint.
// The request's inference id goes with it as InvokeEndpoint's InferenceId, which the endpoint's data capture
// writes as eventMetadata.inferenceId: what joins a captured input to its label (issue 17.4). SageMaker takes
// at most 64 characters; a longer id (ours may have 128) is not sent, and counted.
import { InvokeEndpointCommand, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { StandardRetryStrategy } from '@smithy/core/retry';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { BadRequestError, ModelUnavailableError, type ApiError } from '../serving/errors';
import type { PredictContext, Predictor } from '../serving/model-api';
import type { ModelCard } from '../models/model-card';
import { parseTritonResponse, tritonRequest, type TritonPrediction } from './triton-protocol';

/** The longest InferenceId InvokeEndpoint takes. */
export const MAX_SAGEMAKER_INFERENCE_ID_LENGTH = 64;

/** Attempts per request: the first, and up to two retries of a throttled (or stale-connection) call. */
export const INVOKE_MAX_ATTEMPTS = 3;
/** Backoff before a retry: full jitter over base x 2^retry, capped; small, the caller is waiting. */
const RETRY_BASE_DELAY_MS = 200;
const RETRY_MAX_DELAY_MS = 1000;
/** Longest a connection may take to open, within the attempt's own timeout. */
const CONNECTION_TIMEOUT_MS = 1000;

export interface SageMakerRuntimeClientOptions {
  /**
   * Longest wait for one attempt's answer (connection, request and response headers), and the longest
   * silence while the answer is read.
   */
  readonly timeoutMs: number;
  /** @default - the SDK's: AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME, AWS_ENDPOINT_URL, else the regional endpoint */
  readonly endpoint?: string;
  /** @default - the SDK's: AWS_REGION in Lambda */
  readonly region?: string;
  /** @default - the SDK's default credential chain (the function's role in Lambda) */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
}

type RetryToken = Awaited<ReturnType<StandardRetryStrategy['acquireInitialRetryToken']>>;
type RetryErrorInfo = Parameters<StandardRetryStrategy['refreshRetryTokenForRetry']>[1];

/** Connection-level failures of a reused keep-alive socket: the request never reached the model. */
const STALE_CONNECTION_CODES = new Set(['ECONNRESET', 'EPIPE']);

/**
 * The SDK's standard strategy, but retrying only throttling (ThrottlingException, HTTP 429) and a
 * keep-alive socket the server had closed. Not timeouts: a retried timeout doubles the wait of a caller
 * who already waited the whole timeout. Not 5xx: the endpoint's own failures go to the caller as 503 at once.
 */
class ThrottlingRetryStrategy extends StandardRetryStrategy {
  constructor(maxAttempts: number) {
    super({
      maxAttempts,
      backoff: {
        computeNextBackoffDelay: (retry: number) => Math.floor(Math.random() * Math.min(RETRY_BASE_DELAY_MS * 2 ** retry, RETRY_MAX_DELAY_MS)),
        setDelayBase: () => undefined,
      },
    });
  }

  override async refreshRetryTokenForRetry(token: RetryToken, errorInfo: RetryErrorInfo): Promise<RetryToken> {
    const code = (errorInfo.error as { code?: unknown } | undefined)?.code;
    if (errorInfo.errorType !== 'THROTTLING' && !(typeof code === 'string' && STALE_CONNECTION_CODES.has(code))) {
      throw new Error(`not retried: ${errorInfo.errorType}`);
    }
    return super.refreshRetryTokenForRetry(token, errorInfo);
  }
}

/**
 * A SageMaker runtime client that never hangs: every attempt is bounded by `timeoutMs` (connection
 * within 1 s, response headers within timeoutMs, then at most timeoutMs of silence while reading), and
 * only throttling is retried, with a short backoff, up to INVOKE_MAX_ATTEMPTS attempts.
 */
export function createSageMakerRuntimeClient(options: SageMakerRuntimeClientOptions): SageMakerRuntimeClient {
  const { timeoutMs, endpoint, region, credentials } = options;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) throw new Error(`timeoutMs must be a positive integer, received ${timeoutMs}`);
  return new SageMakerRuntimeClient({
    // Left out, the SDK reads AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME / AWS_ENDPOINT_URL (the local endpoint).
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(region === undefined ? {} : { region }),
    ...(credentials === undefined ? {} : { credentials }),
    maxAttempts: INVOKE_MAX_ATTEMPTS,
    retryStrategy: new ThrottlingRetryStrategy(INVOKE_MAX_ATTEMPTS),
    requestHandler: new NodeHttpHandler({
      connectionTimeout: Math.min(CONNECTION_TIMEOUT_MS, timeoutMs),
      requestTimeout: timeoutMs,
      // Without it, the handler only logs a warning when requestTimeout passes and keeps waiting.
      throwOnRequestTimeout: true,
      socketTimeout: timeoutMs,
    }),
  });
}

export interface SageMakerPredictorOptions {
  /** A client from createSageMakerRuntimeClient (timeouts and retries set). */
  readonly client: SageMakerRuntimeClient;
  /** The endpoint to invoke, e.g. mlship-dev-digits. */
  readonly endpointName: string;
  /** The model card: input tensor name and dims, scores output, labels. */
  readonly card: ModelCard;
  /** The client's per-attempt timeout: named in messages, and it sets the deadline of a whole call. */
  readonly timeoutMs: number;
  /**
   * Told of each request whose inference id is too long for InferenceId (not sent: its captured inputs cannot
   * be joined to labels), with how many so far.
   * @default - counted only (inferenceIdsTooLong)
   */
  readonly onInferenceIdTooLong?: (inferenceId: string, count: number) => void;
}

/** Fields of SDK errors this class reads; all optional, whatever was thrown. */
interface InvokeFailure {
  readonly name?: unknown;
  readonly message?: unknown;
  readonly code?: unknown;
  readonly OriginalStatusCode?: unknown;
  readonly OriginalMessage?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: number; readonly attempts?: number };
}

const UNAVAILABLE_ERRORS = new Set(['ServiceUnavailable', 'InternalFailure', 'InternalDependencyException', 'ModelNotReadyException']);
const UNREACHABLE_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

function text(value: unknown, max = 300): string {
  const s = typeof value === 'string' ? value : value instanceof Error ? value.message : String(value);
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}

/** What the model said: Triton's `{"error": "..."}`, or the text as it came. */
function modelMessage(failure: InvokeFailure): string {
  const original = failure.OriginalMessage;
  if (typeof original === 'string' && original !== '') {
    try {
      const parsed = JSON.parse(original) as { error?: unknown };
      if (typeof parsed?.error === 'string') return text(parsed.error);
    } catch {
      // not JSON: use it as it is
    }
    return text(original);
  }
  return text(failure.message ?? 'no message');
}

export class SageMakerPredictor implements Predictor {
  readonly card: ModelCard;
  readonly endpointName: string;
  private readonly client: SageMakerRuntimeClient;
  private readonly timeoutMs: number;
  /** A whole call, retries included, ends by then: every attempt may take timeoutMs, plus the backoffs. */
  private readonly deadlineMs: number;
  private readonly onInferenceIdTooLong: SageMakerPredictorOptions['onInferenceIdTooLong'];
  /** Requests whose inference id was longer than InferenceId takes, so not sent. */
  inferenceIdsTooLong = 0;

  constructor({ client, endpointName, card, timeoutMs, onInferenceIdTooLong }: SageMakerPredictorOptions) {
    this.client = client;
    this.onInferenceIdTooLong = onInferenceIdTooLong;
    this.endpointName = endpointName;
    this.card = card;
    this.timeoutMs = timeoutMs;
    this.deadlineMs = INVOKE_MAX_ATTEMPTS * timeoutMs + (INVOKE_MAX_ATTEMPTS - 1) * RETRY_MAX_DELAY_MS;
  }

  async predict(rows: Float32Array, count: number, context?: PredictContext): Promise<TritonPrediction> {
    const { body } = tritonRequest(this.card, rows, count);
    const id = context?.inferenceId;
    let inferenceId: string | undefined;
    if (id !== undefined && id.length <= MAX_SAGEMAKER_INFERENCE_ID_LENGTH) inferenceId = id;
    else if (id !== undefined) this.onInferenceIdTooLong?.(id, ++this.inferenceIdsTooLong);
    let answer: string;
    try {
      const response = await this.client.send(
        new InvokeEndpointCommand({
          EndpointName: this.endpointName,
          ContentType: 'application/json',
          Accept: 'application/json',
          Body: Buffer.from(body, 'utf8'),
          ...(inferenceId === undefined ? {} : { InferenceId: inferenceId }),
        }),
        { abortSignal: AbortSignal.timeout(this.deadlineMs) },
      );
      answer = response.Body ? Buffer.from(response.Body).toString('utf8') : '';
    } catch (error) {
      throw this.failure(error);
    }
    try {
      return parseTritonResponse(this.card, answer, count);
    } catch (error) {
      throw new ModelUnavailableError(`the SageMaker endpoint ${this.endpointName} answered something that is not a Triton answer for model ${this.card.name}: ${text(error)}`, { cause: error });
    }
  }

  /** The API error for a failed InvokeEndpoint: 400 for input the model refused, else 503 naming the endpoint. */
  private failure(error: unknown): ApiError {
    const failure = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as InvokeFailure;
    const name = typeof failure.name === 'string' ? failure.name : 'Error';
    const code = typeof failure.code === 'string' ? failure.code : undefined;
    const message = text(failure.message ?? '');
    const where = `the SageMaker endpoint ${this.endpointName}`;
    const attempts = failure.$metadata?.attempts ?? 1;
    const unavailable = (why: string) => new ModelUnavailableError(`${where} ${why}`, { cause: error });

    if (name === 'ModelError') {
      const status = typeof failure.OriginalStatusCode === 'number' ? failure.OriginalStatusCode : undefined;
      if (status !== undefined && status >= 400 && status < 500) return new BadRequestError(`the model refused the input: ${modelMessage(failure)}`);
      return unavailable(`failed to run the model${status === undefined ? '' : ` (status ${status})`}: ${modelMessage(failure)}; retry later`);
    }
    if (name === 'ValidationError' && /not found/i.test(message)) {
      // SageMaker's message names the account; the caller gets the endpoint, the log gets the rest.
      return unavailable('was not found: is it deployed, in this account and region? See the function\'s logs');
    }
    // Before throttling: ModelNotReadyException also comes as HTTP 429.
    if (UNAVAILABLE_ERRORS.has(name)) return unavailable(`is unavailable (${name}: ${message}); retry later`);
    if (name === 'ThrottlingException' || failure.$metadata?.httpStatusCode === 429) {
      return unavailable(`is throttling requests (${name}, ${attempts} attempt${attempts === 1 ? '' : 's'}); retry with backoff`);
    }
    if (name === 'AbortError') return unavailable(`did not answer within ${this.deadlineMs} ms (${attempts} attempt${attempts === 1 ? '' : 's'}); retry later`);
    if (code === 'ECONNREFUSED') return unavailable(`refused the connection (ECONNREFUSED): it is down or not listening; retry later`);
    if (code !== undefined && STALE_CONNECTION_CODES.has(code)) return unavailable(`closed the connection before answering (${code}); retry later`);
    if (code !== undefined && UNREACHABLE_CODES.has(code)) return unavailable(`could not be reached (${code}); retry later`);
    if (name === 'TimeoutError') {
      if (message.includes('did not establish a connection')) return unavailable(`did not accept a connection within ${Math.min(CONNECTION_TIMEOUT_MS, this.timeoutMs)} ms; retry later`);
      return unavailable(`did not answer within ${this.timeoutMs} ms; retry later`);
    }
    // Access denied, bad credentials, a request SageMaker refused: this function's configuration.
    return unavailable(`could not be called (${name}); see the function's logs`);
  }
}
