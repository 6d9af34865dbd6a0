// A local stand-in for a SageMaker real-time endpoint running Triton: `POST /endpoints/{name}/invocations`
// answered by the model's ONNX session, in the same Triton v2 JSON and with SageMaker's own answer
// shapes, so the SageMaker proxy (or any SageMaker runtime client, `endpoint: http://127.0.0.1:<port>`)
// runs end to end with no AWS account:
// - 200 with Triton's answer {model_name, model_version, outputs: [{name, datatype, shape, data}]} and
//   the header x-amzn-invoked-production-variant;
// - input the "container" refuses (not JSON, wrong input name, datatype, shape or size): HTTP 424,
//   x-amzn-errortype ModelError, body {ErrorCode, LogStreamArn, Message, OriginalMessage,
//   OriginalStatusCode: 400}, which the SDK turns into a ModelError with OriginalStatusCode 400;
// - a model that fails to run: the same with OriginalStatusCode 500;
// - an unknown endpoint: HTTP 400 ValidationError "Endpoint X of account Y not found.", as SageMaker.
// handleInvocation is the whole request handling; the local gateway mounts it on its own server, and
// startLocalSageMakerEndpoint is a minimal server of its own (tests, trying a client by hand).
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sageMakerCaptureLine } from '../../lambdas/core/monitoring/capture/capture-parse';
import { CaptureSampler } from '../../lambdas/core/monitoring/capture/sampling';
import { ModelUnavailableError } from '../../lambdas/core/serving/errors';
import type { ServedModel } from '../../lambdas/core/models/inference-session';
import { tritonInputDims } from '../../lambdas/core/sagemaker/triton-protocol';
import { answerEarly, closeConnectionsLingering, DEFAULT_LINGER_LIMITS, isLingering, readBody } from '../serving/lingering-close';

/** What the endpoint needs of a served model (ServedModel, or a stand-in in tests). */
export type EndpointModel = Pick<ServedModel, 'card' | 'predict'>;

export interface InvocationResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** The variant name of a single-variant endpoint, as SageMaker names it by default. */
export const LOCAL_VARIANT_NAME = 'AllTraffic';
/** The account in SageMaker's messages; there is none locally. */
export const LOCAL_ACCOUNT_ID = '000000000000';
/** InvokeEndpoint's payload limit for real-time endpoints. */
export const MAX_INVOCATION_BYTES = 25 * 1024 * 1024;
/** Largest magnitude of an FP32 value: JSON numbers past it (1e309 parses as Infinity) would be scored as Infinity. */
const FP32_MAX = 3.4028234663852886e38;

/** The local endpoint of one served version: `digits-v2`. One per version, so a shift can run both. */
export function localEndpointName(model: string, version: number | string): string {
  return `${model}-v${version}`;
}

/** Triton's refusal of the request: its message, and the HTTP status Triton would answer. */
class TritonError extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

function jsonResponse(statusCode: number, headers: Record<string, string>, body: unknown): InvocationResponse {
  return { statusCode, headers: { 'content-type': 'application/json', 'x-amzn-requestid': randomUUID(), ...headers }, body: JSON.stringify(body) };
}

/** SageMaker's answer when the container answered an error: 424 ModelError carrying the container's status and body. */
function modelErrorResponse(error: TritonError): InvocationResponse {
  const original = JSON.stringify({ error: error.message });
  const kind = error.status < 500 ? 'client' : 'server';
  return jsonResponse(424, { 'x-amzn-errortype': 'ModelError' }, {
    ErrorCode: error.status < 500 ? 'CLIENT_ERROR_FROM_MODEL' : 'INTERNAL_FAILURE_FROM_MODEL',
    LogStreamArn: 'local',
    // SageMaker's own member name is `Message` (the SDK reads `message` or `Message`).
    Message: `Received ${kind} error (${error.status}) from primary with message "${original}". See the local endpoint's log for more information.`,
    OriginalMessage: original,
    OriginalStatusCode: error.status,
  });
}

/** SageMaker's answer for an endpoint that does not exist. */
export function endpointNotFoundResponse(endpointName: string): InvocationResponse {
  // SageMaker's x-amzn-errortype carries a namespace after the colon; the SDK keeps the part before it.
  return jsonResponse(400, { 'x-amzn-errortype': 'ValidationError:http://internal.amazon.com/coral/com.amazon.sagemaker/' }, {
    message: `Endpoint ${endpointName} of account ${LOCAL_ACCOUNT_ID} not found.`,
  });
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value === null || value === undefined) return String(value);
  return typeof value === 'object' ? 'an object' : JSON.stringify(value);
}

/** A caller's value in a message: a string as it is, anything else described (String() of `{"toString": 1}` throws). */
function text(value: unknown): string {
  return typeof value === 'string' ? value : describe(value);
}

interface TritonInput {
  readonly rows: Float32Array;
  readonly count: number;
  readonly outputs: readonly string[] | undefined;
  readonly id: string | undefined;
}

/** Reads the request as Triton does for this model, refusing what Triton would refuse. */
function readRequest(model: EndpointModel, body: string, contentType: string | undefined): TritonInput {
  const card = model.card;
  const name = card.name;
  const media = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (media.startsWith('application/vnd.sagemaker-triton.binary+json')) throw new TritonError('binary tensor data is not supported by the local endpoint; send JSON');
  if (media !== '' && media !== 'application/json') throw new TritonError(`unsupported content type '${media.slice(0, 100)}'; send application/json`);
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    throw new TritonError(`failed to parse the request JSON buffer: ${(error as Error).message.slice(0, 200)}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new TritonError(`the request must be a JSON object with 'inputs', received ${describe(json)}`);
  const request = json as Record<string, unknown>;
  const inputs = request.inputs;
  if (!Array.isArray(inputs)) throw new TritonError("Unable to find 'inputs' in JSON request");
  if (inputs.length !== 1) throw new TritonError(`expected 1 inputs but got ${inputs.length} inputs for model '${name}'`);
  const input = inputs[0] as Record<string, unknown>;
  if (typeof input !== 'object' || input === null) throw new TritonError(`inputs[0] must be an object, received ${describe(input)}`);
  const tensor = card.input.tensorName;
  if (input.name !== tensor) throw new TritonError(`unexpected inference input '${text(input.name).slice(0, 100)}' for model '${name}'`);
  if (input.datatype !== 'FP32') throw new TritonError(`inference input '${tensor}' data-type is '${text(input.datatype).slice(0, 20)}', but model '${name}' expects 'FP32'`);
  const dims = tritonInputDims(card);
  const shape = input.shape;
  const expected = `[-1,${dims.join(',')}]`;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new TritonError(`unable to parse 'shape' of input '${tensor}': ${describe(shape)}`);
  if (shape.length !== dims.length + 1 || dims.some((d, i) => shape[i + 1] !== d)) {
    throw new TritonError(`unexpected shape for input '${tensor}' for model '${name}'. Expected ${expected}, got [${shape.join(',')}]`);
  }
  const count = shape[0] as number;
  if (count < 1) throw new TritonError(`inference request batch-size must be >= 1 for model '${name}', got ${count}`);
  const size = (shape as number[]).reduce((a, b) => a * b, 1);
  const data = input.data;
  if (!Array.isArray(data)) throw new TritonError(`unable to parse 'data' of input '${tensor}': expected an array, received ${describe(data)}`);
  // Triton takes the data flat or nested (row-major); the shape decides how it is read.
  const flat = data.flat(dims.length) as unknown[];
  if (flat.length !== size) throw new TritonError(`unexpected number of elements for input '${tensor}' for model '${name}': ${flat.length}, its shape [${shape.join(',')}] needs ${size}`);
  const rows = new Float32Array(size);
  for (let k = 0; k < size; k++) {
    const v = flat[k];
    if (typeof v !== 'number') throw new TritonError(`unable to parse 'data' of input '${tensor}': element ${k} is ${describe(v)}, expected a number`);
    // Triton's JSON parser refuses a number too big for a double; past FP32's range the model would score Infinity.
    if (!(v <= FP32_MAX && v >= -FP32_MAX)) throw new TritonError(`unable to parse 'data' of input '${tensor}': element ${k} (${v}) is out of range for FP32`);
    rows[k] = v;
  }
  let outputs: string[] | undefined;
  if (request.outputs !== undefined) {
    if (!Array.isArray(request.outputs)) throw new TritonError(`'outputs' must be an array, received ${describe(request.outputs)}`);
    const known = [card.output.scoresTensor, ...(card.output.labelTensor ? [card.output.labelTensor] : [])];
    outputs = request.outputs.map((o: unknown) => {
      const requested = typeof o === 'object' && o !== null ? (o as Record<string, unknown>).name : undefined;
      if (typeof requested !== 'string' || !known.includes(requested)) throw new TritonError(`unexpected inference output '${text(requested).slice(0, 100)}' for model '${name}'`);
      return requested;
    });
  }
  const id = typeof request.id === 'string' ? request.id : undefined;
  return { rows, count, outputs, id };
}

/**
 * One InvokeEndpoint call, answered as SageMaker with Triton would: the Triton answer, or SageMaker's
 * ModelError carrying Triton's refusal. Never throws.
 */
export async function handleInvocation(model: EndpointModel, body: string, contentType: string | undefined): Promise<InvocationResponse> {
  const card = model.card;
  try {
    const { rows, count, outputs, id } = readRequest(model, body, contentType);
    let prediction;
    try {
      prediction = await model.predict(rows, count);
    } catch (error) {
      throw new TritonError(error instanceof ModelUnavailableError ? error.message : `model '${card.name}' failed to run`, 500);
    }
    const { scores, width, classIndex } = prediction;
    // Triton sends the model's raw scores. The session answers probabilities (softmax already applied
    // to logits), so a logits model gets log-probabilities back: logits that give the same softmax.
    const raw = card.output.scoresKind === 'logits' ? Array.from(scores, (p) => Math.log(Math.max(p, Number.MIN_VALUE))) : Array.from(scores);
    const available: Record<string, unknown> = {
      [card.output.scoresTensor]: { name: card.output.scoresTensor, datatype: 'FP32', shape: [count, width], data: raw },
    };
    if (card.output.labelTensor) available[card.output.labelTensor] = { name: card.output.labelTensor, datatype: 'INT64', shape: [count], data: Array.from(classIndex) };
    const names = outputs ?? Object.keys(available);
    return jsonResponse(200, { 'x-amzn-invoked-production-variant': LOCAL_VARIANT_NAME }, {
      model_name: card.name,
      model_version: String(card.version),
      ...(id === undefined ? {} : { id }),
      outputs: names.map((n) => available[n]),
    });
  } catch (error) {
    if (error instanceof TritonError) return modelErrorResponse(error);
    return modelErrorResponse(new TritonError(`model '${card.name}' failed to run`, 500));
  }
}

/** The header InvokeEndpoint's InferenceId travels in (lower case, as node reads headers). */
export const SAGEMAKER_INFERENCE_ID_HEADER = 'x-amzn-sagemaker-inference-id';

/** Where the endpoint's capture lines go (local/monitoring/capture-files.ts FolderCaptureSink). */
export interface SageMakerCaptureSink {
  writeSageMaker(endpointName: string, time: Date, line: string): void;
}

/**
 * The endpoints' data capture, as SageMaker's DataCaptureConfig does it: a share of each endpoint's answered
 * invocations, request and answer, as SageMaker capture lines (JSON bodies kept as text, encoding JSON).
 */
export class EndpointCapture {
  private readonly samplers = new Map<string, CaptureSampler>();

  constructor(private readonly sink: SageMakerCaptureSink) {}

  /** Captures `percent` of an endpoint's invocations (the model's sagemaker.dataCapturePercent); 0 stops it. */
  set(endpointName: string, percent: number, random?: () => number): void {
    this.samplers.set(endpointName, new CaptureSampler(percent, random));
  }

  /**
   * Called with each answered invocation; captures the sampled 200s (off the answer: the sink only queues). The
   * call's InferenceId is the line's eventMetadata.inferenceId, as SageMaker writes it.
   */
  offer(endpointName: string, body: string, contentType: string | undefined, answer: InvocationResponse, time = new Date(), inferenceId?: string): void {
    if (answer.statusCode !== 200 || !this.samplers.get(endpointName)?.take()) return;
    let line = sageMakerCaptureLine({
      eventId: answer.headers['x-amzn-requestid'] ?? randomUUID(),
      time,
      input: { contentType: contentType ?? 'application/json', body },
      output: { contentType: answer.headers['content-type'] ?? 'application/json', body: answer.body },
    });
    if (inferenceId !== undefined && inferenceId !== '') {
      const value = JSON.parse(line) as { eventMetadata: Record<string, unknown> };
      value.eventMetadata = { ...value.eventMetadata, inferenceId };
      line = JSON.stringify(value);
    }
    this.sink.writeSageMaker(endpointName, time, line);
  }
}

/** Routes `POST /endpoints/{name}/invocations`; anything else gets SageMaker's answer for it. */
export async function routeInvocation(
  models: ReadonlyMap<string, EndpointModel>,
  method: string,
  path: string,
  body: string,
  contentType: string | undefined,
  capture?: EndpointCapture,
  /** The call's InferenceId (header X-Amzn-SageMaker-Inference-Id): its capture line names it. */
  inferenceId?: string,
): Promise<InvocationResponse> {
  const match = /^\/endpoints\/([^/]+)\/invocations$/.exec(path);
  if (method !== 'POST' || !match) return jsonResponse(404, { 'x-amzn-errortype': 'UnknownOperationException' }, { message: `no operation ${method} ${path.slice(0, 200)}` });
  const endpointName = decodeURIComponent(match[1]!);
  const model = models.get(endpointName);
  if (!model) return endpointNotFoundResponse(endpointName);
  const answer = await handleInvocation(model, body, contentType);
  capture?.offer(endpointName, body, contentType, answer, new Date(), inferenceId);
  return answer;
}

export interface LocalSageMakerEndpoint {
  /** http://127.0.0.1:<port>: the `endpoint` of a SageMakerRuntimeClient (or AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME). */
  readonly url: string;
  readonly port: number;
  /** Every invocation answered, in order (empty when not recording). */
  readonly invocations: { readonly endpointName: string; readonly statusCode: number }[];
  close(): Promise<void>;
}

/** A SageMaker-runtime-compatible server on 127.0.0.1 serving `models` by endpoint name (port 0: a free one). */
export async function startLocalSageMakerEndpoint(
  models: ReadonlyMap<string, EndpointModel>,
  port = 0,
  /** Keep the list of invocations (tests read it); a long-running server should not. Capture a share of them. */
  { recordInvocations = true, capture }: { recordInvocations?: boolean; capture?: EndpointCapture } = {},
): Promise<LocalSageMakerEndpoint> {
  const invocations: { endpointName: string; statusCode: number }[] = [];
  const answer = (response: ServerResponse, result: InvocationResponse) => {
    response.writeHead(result.statusCode, { ...result.headers, 'content-length': String(Buffer.byteLength(result.body)) });
    response.end(result.body);
  };
  const server = createServer((request, response) => {
    // A request parsed from the bytes that followed a 413 (in the same chunk) is not answered.
    if (isLingering(request.socket)) return void request.resume();
    const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
    const contentType = request.headers['content-type'];
    const match = /^\/endpoints\/([^/]+)\/invocations$/.exec(path);
    const record = (statusCode: number) => {
      if (match && recordInvocations) invocations.push({ endpointName: decodeURIComponent(match[1]!), statusCode });
    };
    // A payload past the limit is answered before the rest of it is read, and the connection closes
    // lingering (lingering-close.ts): a client still sending reads the 413, not a reset.
    const tooLarge = () => {
      const result = jsonResponse(413, { 'x-amzn-errortype': 'ValidationError' }, { message: `Request payload is larger than ${MAX_INVOCATION_BYTES} bytes.` });
      record(413);
      answerEarly(request, response, { status: 413, headers: result.headers, body: result.body }, { readUpTo: 0, close: true, limits: DEFAULT_LINGER_LIMITS });
    };
    readBody(request, MAX_INVOCATION_BYTES, tooLarge)
      .then(async (body) => {
        if (body === undefined) return;
        const inferenceId = request.headers[SAGEMAKER_INFERENCE_ID_HEADER];
        const result = await routeInvocation(models, request.method ?? 'GET', path, body, contentType, capture, typeof inferenceId === 'string' ? inferenceId : undefined);
        record(result.statusCode);
        answer(response, result);
      })
      .catch(() => {
        if (!response.headersSent) answer(response, jsonResponse(500, { 'x-amzn-errortype': 'InternalFailure' }, { message: 'the local endpoint failed to answer' }));
      });
  });
  closeConnectionsLingering(server, DEFAULT_LINGER_LIMITS);
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}`,
    port: bound,
    invocations,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
