// The HTTP API of one model, independent of where it runs: the Lambda handler adapts API Gateway
// events to it, and the local gateway runs that same handler. Bad input ends as a named 4xx error.
import { decodeV1, decodeV2, encodeV1, encodeV2, InputLayout, modelMetadata, type DecodedBatch } from './codecs';
import { ApiError, BadRequestError, errorBody, ExplanationUnavailableError, INTERNAL_ERROR_BODY, MethodNotAllowedError, NotFoundError, PayloadTooLargeError, UnsupportedMediaTypeError } from './errors';
import { explanationJson, type Explainer } from '../explain/explainer';
import type { BatchPrediction } from '../models/inference-session';
import type { ModelCard } from '../models/model-card';
import { RouteTable, type ModelOperation } from './routes';
import { checkInferenceId, INFERENCE_ID_FIELDS, newInferenceId } from '../quality/predictions/inference-id';
import { INFERENCE_ID_HEADER } from '../quality/contracts';

export interface ApiRequest {
  readonly method: string;
  /** The route path, e.g. /v2/models/digits/infer (without any stage or base path). */
  readonly path: string;
  readonly contentType: string | undefined;
  readonly body: string | null | undefined;
  /** The request's x-inference-id header, when it has one: the caller's name for this prediction. */
  readonly inferenceId?: string | undefined;
}

export interface ApiResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export interface ApiLimits {
  /** Requests with a larger body get 413. */
  readonly maxBodyBytes: number;
  /** Requests with more instances get 400. */
  readonly maxBatchSize: number;
}

/** What happened to one request: for metrics, logs and (later) canary evaluation. */
export interface RequestRecord {
  readonly operation: ModelOperation | 'unrouted';
  readonly statusCode: number;
  readonly errorCode: string | undefined;
  /** Instances scored; 0 when the request was rejected. */
  readonly instances: number;
  /** Time inside session.run, in milliseconds. */
  readonly inferenceMs: number;
  /** The error behind a 5xx, for the log; an unexpected one is never sent to the caller. */
  readonly failure?: unknown;
  /**
   * The inference id of a predict or infer request (the caller's, or one made here), also in the answer's
   * x-inference-id header; undefined for the other routes.
   */
  readonly inferenceId?: string;
  /** What was scored (predict and infer answered 200): references to the decoded rows and the prediction, for data capture. */
  readonly scored?: ScoredBatch;
}

/** The rows a request scored and the model's answer, as the capture path reads them (not copies). */
export interface ScoredBatch {
  /** Row-major raw feature values, `count` rows of the card's features. */
  readonly rows: Float32Array;
  readonly count: number;
  /** The answer, with the version that gave it when a remote predictor names it. */
  readonly prediction: BatchPrediction & { readonly servedVersion?: string };
}

export interface ApiResult {
  readonly response: ApiResponse;
  readonly record: RequestRecord;
}

/**
 * What answers for the model: an onnxruntime session in this process (ServedModel), or a remote
 * endpoint (the SageMaker proxy). The API decodes, validates and encodes the same way for both.
 */
/** What a predictor may know of the request it scores. */
export interface PredictContext {
  /** The request's inference id (x-inference-id, the v2 body's id, or the one made for it). */
  readonly inferenceId?: string;
}

export interface Predictor {
  readonly card: ModelCard;
  /**
   * Runs `count` rows of `card.input.features.length` raw values. A remote predictor may report the
   * version that actually answered (during a blue/green shift it can be the old one), and may pass the
   * request's inference id on (a SageMaker endpoint's capture then names it, so labels join its inputs).
   */
  predict(rows: Float32Array, count: number, context?: PredictContext): Promise<BatchPrediction & { readonly servedVersion?: string }>;
}

/** What the :explain route needs: the model version's explainer and the manifest's `explain` limits. */
export interface ExplainOptions {
  /**
   * The version's explainer (Explainer.create over its background sample); undefined when the version has
   * none, and :explain answers 409 explanation_unavailable with `unavailable` as the reason.
   */
  readonly explainer: Explainer | undefined;
  /** Why there is no explainer, for the 409's message. @default - the version has no background sample */
  readonly unavailable?: string;
  /** Most instances in one :explain request (explain.maxInstances). */
  readonly maxInstances: number;
  /** Sampling deadline, ms after the request is decoded (explain.timeoutMs). */
  readonly timeoutMs: number;
  /** Model rows scored per explained row (explain.maxEvaluations). */
  readonly maxEvaluations: number;
  /** The clock of the deadline. @default performance.now */
  readonly now?: () => number;
}

/** The 409's reason when a version carries no background sample. */
export function noBackgroundReason(card: ModelCard): string {
  return `${card.name} v${card.version} has no background sample for explanations (model.json names no explanation.background); write a version with one: \`mlship train\`, or \`mlship import\` with --data`;
}

const JSON_MEDIA_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

export class ModelApi {
  private readonly routes: RouteTable;
  private readonly layout: InputLayout;
  private readonly baseHeaders: Record<string, string>;
  private readonly name: string;
  private readonly version: string;

  constructor(
    readonly model: Predictor,
    private readonly limits: ApiLimits,
    /** The :explain route's explainer and limits. @default - :explain answers 409 explanation_unavailable */
    private readonly explain?: ExplainOptions,
  ) {
    this.name = model.card.name;
    this.version = String(model.card.version);
    this.routes = new RouteTable([this.name]);
    this.layout = new InputLayout(model.card);
    this.baseHeaders = { 'content-type': 'application/json', 'x-model-name': this.name, 'x-model-version': this.version };
  }

  async handle(request: ApiRequest): Promise<ApiResult> {
    let operation: RequestRecord['operation'] = 'unrouted';
    // A scoring request's id, once known: its answer names it, an error answer too (the caller can quote it).
    const naming: { id?: string } = {};
    try {
      const match = this.routes.match(request.method, request.path);
      if (match.found === 'wrong-method') throw new MethodNotAllowedError(request.method, request.path, match.allowed);
      if (match.found === 'unknown-model') throw new NotFoundError(`model '${match.model.slice(0, 100)}' is not served here; this function serves '${this.name}'`, 'model_not_found');
      if (match.found === 'none' || match.route.kind !== 'model') throw new NotFoundError(`no route ${request.method} ${request.path.slice(0, 200)}`);
      operation = match.route.operation;
      return await this.run(operation, request, naming);
    } catch (error) {
      const scoring = operation === 'predict' || operation === 'infer' || operation === 'explain';
      return this.failure(operation, error, scoring ? (naming.id ?? newInferenceId()) : undefined);
    }
  }

  private async run(operation: ModelOperation, request: ApiRequest, naming: { id?: string }): Promise<ApiResult> {
    switch (operation) {
      case 'metadata':
        return this.ok(operation, modelMetadata(this.model.card), 0, 0);
      case 'ready':
        return this.ok(operation, { name: this.name, ready: true }, 0, 0);
      case 'status':
        return this.ok(operation, { name: this.name, version: this.version, ready: true }, 0, 0);
      case 'predict': {
        const id = (naming.id = this.headerId(request) ?? newInferenceId());
        const batch = decodeV1(this.readJson(request, "an 'instances' array"), this.layout, this.limits);
        const { prediction, inferenceMs } = await this.predict(batch, id);
        return this.okText(operation, encodeV1(prediction, this.model.card), batch.count, inferenceMs, prediction.servedVersion, { rows: batch.rows, count: batch.count, prediction }, id);
      }
      case 'explain':
        return this.explainRequest(request, naming);
      case 'infer': {
        const fromHeader = this.headerId(request);
        naming.id = fromHeader;
        const body = this.readJson(request, "an 'inputs' array");
        // The header wins; else the body's `id` (checked the same way), known before the inputs are, so an
        // answer to a request with bad inputs still names the caller's id.
        const bodyId = fromHeader === undefined ? (body as { id?: unknown } | null)?.id : undefined;
        if (typeof bodyId === 'string') naming.id = checkInferenceId(bodyId, INFERENCE_ID_FIELDS.body);
        else if (bodyId !== undefined) throw new BadRequestError(`${INFERENCE_ID_FIELDS.body} must be a string, received ${bodyId === null ? 'null' : typeof bodyId}`, 'invalid_inference_id');
        const batch = decodeV2(body, this.layout, this.limits);
        const id = (naming.id ??= newInferenceId());
        const { prediction, inferenceMs } = await this.predict(batch, id);
        const answer = encodeV2(prediction, this.model.card, id);
        const served = prediction.servedVersion;
        return this.okText(operation, JSON.stringify(served === undefined ? answer : { ...answer, model_version: served }), batch.count, inferenceMs, served, { rows: batch.rows, count: batch.count, prediction }, id);
      }
    }
  }

  /**
   * `{"predictions": [...as :predict...], "explanations": [...]}`. Not recorded as predictions (no `scored`):
   * an explanation is a question about an answer, and recording it would count its rows twice in the
   * quality and drift monitors; the answer still carries an inference id, for the caller's logs.
   */
  private async explainRequest(request: ApiRequest, naming: { id?: string }): Promise<ApiResult> {
    const id = (naming.id = this.headerId(request) ?? newInferenceId());
    const settings = this.explain;
    const body = this.readJson(request, "an 'instances' array");
    const instances = (body as { instances?: unknown } | null)?.instances;
    if (settings && Array.isArray(instances) && instances.length > settings.maxInstances) {
      throw new BadRequestError(`instances has ${instances.length} instances, more than the limit of ${settings.maxInstances} an :explain request takes (explain.maxInstances in the manifest); split the batch`);
    }
    const batch = decodeV1(body, this.layout, this.limits);
    if (!settings?.explainer) throw new ExplanationUnavailableError(settings?.unavailable ?? noBackgroundReason(this.model.card));
    const now = settings.now ?? (() => performance.now());
    const deadline = now() + settings.timeoutMs;
    const { prediction, inferenceMs } = await this.predict(batch, id);
    const started = performance.now();
    const explanations = await settings.explainer.explain(batch.rows, batch.count, { deadline, now, maxEvaluations: settings.maxEvaluations });
    const explainMs = performance.now() - started;
    const json = explanations.map((e) => explanationJson(e, this.model.card));
    const predictions = encodeV1(prediction, this.model.card);
    const text = `${predictions.slice(0, -1)},"explanations":${JSON.stringify(json)}}`;
    return this.okText('explain', text, batch.count, inferenceMs + explainMs, prediction.servedVersion, undefined, id);
  }

  /** The caller's id from the x-inference-id header, checked; undefined without the header. */
  private headerId(request: ApiRequest): string | undefined {
    const value = request.inferenceId;
    return value === undefined ? undefined : checkInferenceId(value, INFERENCE_ID_FIELDS.header);
  }

  private async predict(batch: DecodedBatch, inferenceId: string) {
    const started = performance.now();
    const prediction = await this.model.predict(batch.rows, batch.count, { inferenceId });
    return { prediction, inferenceMs: performance.now() - started };
  }

  private readJson(request: ApiRequest, expected: string): unknown {
    const contentType = request.contentType;
    if (contentType !== undefined && contentType !== '' && !JSON_MEDIA_TYPE.test(contentType)) throw new UnsupportedMediaTypeError(contentType);
    const body = request.body;
    if (body === null || body === undefined || body.trim() === '') throw new BadRequestError(`request body is empty; send a JSON object with ${expected}`, 'invalid_json');
    // Length in UTF-16 units is at most the byte length, so only measure bytes near the limit.
    if (body.length > this.limits.maxBodyBytes / 3 && Buffer.byteLength(body, 'utf8') > this.limits.maxBodyBytes) {
      throw new PayloadTooLargeError(this.limits.maxBodyBytes);
    }
    try {
      return JSON.parse(body);
    } catch (error) {
      throw new BadRequestError(`request body is not valid JSON: ${(error as Error).message.slice(0, 200)}`, 'invalid_json');
    }
  }

  private ok(operation: ModelOperation, payload: unknown, instances: number, inferenceMs: number): ApiResult {
    return this.okText(operation, JSON.stringify(payload), instances, inferenceMs);
  }

  private okText(operation: ModelOperation, body: string, instances: number, inferenceMs: number, servedVersion?: string, scored?: ScoredBatch, inferenceId?: string): ApiResult {
    let headers = servedVersion === undefined || servedVersion === this.version ? this.baseHeaders : { ...this.baseHeaders, 'x-model-version': servedVersion };
    if (inferenceId !== undefined) headers = { ...headers, [INFERENCE_ID_HEADER]: inferenceId };
    return {
      response: { statusCode: 200, headers, body },
      record: { operation, statusCode: 200, errorCode: undefined, instances, inferenceMs, ...(inferenceId === undefined ? {} : { inferenceId }), ...(scored ? { scored } : {}) },
    };
  }

  private failure(operation: RequestRecord['operation'], error: unknown, inferenceId: string | undefined): ApiResult {
    const named = inferenceId === undefined ? {} : { inferenceId };
    const baseHeaders = inferenceId === undefined ? this.baseHeaders : { ...this.baseHeaders, [INFERENCE_ID_HEADER]: inferenceId };
    if (error instanceof ApiError) {
      const headers = error instanceof MethodNotAllowedError ? { ...baseHeaders, allow: error.allowed.join(', ') } : baseHeaders;
      return {
        response: { statusCode: error.status, headers, body: JSON.stringify(errorBody(error)) },
        // A 5xx of our own (the model failed to run) is the operator's problem: keep the error for the log.
        record: { operation, statusCode: error.status, errorCode: error.code, instances: 0, inferenceMs: 0, ...named, ...(error.status >= 500 ? { failure: error } : {}) },
      };
    }
    return {
      response: { statusCode: 500, headers: baseHeaders, body: JSON.stringify(INTERNAL_ERROR_BODY) },
      record: { operation, statusCode: 500, errorCode: INTERNAL_ERROR_BODY.error.code, instances: 0, inferenceMs: 0, ...named, failure: error },
    };
  }
}
