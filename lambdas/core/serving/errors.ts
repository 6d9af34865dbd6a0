// Named errors of the HTTP API. Each maps to one status and a stable machine-readable code; the
// message names the field at fault. Anything else is an internal error and is never shown to callers.

export abstract class ApiError extends Error {
  abstract readonly status: number;
  abstract readonly code: string;
}

/** 400: malformed JSON, wrong shape or type, a missing or unknown feature, an empty or oversized batch. */
export class BadRequestError extends ApiError {
  override readonly name = 'BadRequestError';
  readonly status = 400;
  constructor(
    message: string,
    readonly code = 'invalid_request',
  ) {
    super(message);
  }
}

/** 403: the API requires a key and the request carries none, or a wrong one (the key is never echoed). */
export class ForbiddenError extends ApiError {
  override readonly name = 'ForbiddenError';
  readonly status = 403;
  readonly code = 'forbidden';
}

export class NotFoundError extends ApiError {
  override readonly name = 'NotFoundError';
  readonly status = 404;
  constructor(
    message: string,
    readonly code: 'model_not_found' | 'route_not_found' = 'route_not_found',
  ) {
    super(message);
  }
}

export class MethodNotAllowedError extends ApiError {
  override readonly name = 'MethodNotAllowedError';
  readonly status = 405;
  readonly code = 'method_not_allowed';
  constructor(
    method: string,
    path: string,
    readonly allowed: readonly string[],
  ) {
    super(`method ${method} is not allowed on ${path}; use ${allowed.join(' or ')}`);
  }
}

/**
 * 409: the request is fine but the model version cannot answer it as it stands: :explain of a version
 * without a background sample. The message says how to write a version that has one.
 */
export class ExplanationUnavailableError extends ApiError {
  override readonly name = 'ExplanationUnavailableError';
  readonly status = 409;
  readonly code = 'explanation_unavailable';
}

export class PayloadTooLargeError extends ApiError {
  override readonly name = 'PayloadTooLargeError';
  readonly status = 413;
  readonly code = 'payload_too_large';
  constructor(limitBytes: number) {
    super(`request body is larger than the limit of ${limitBytes} bytes; send fewer instances per request`);
  }
}

export class UnsupportedMediaTypeError extends ApiError {
  override readonly name = 'UnsupportedMediaTypeError';
  readonly status = 415;
  readonly code = 'unsupported_media_type';
  constructor(received: string | undefined) {
    super(`content-type must be application/json, received ${received ? `'${received.slice(0, 100)}'` : 'none'}`);
  }
}

export class TooManyRequestsError extends ApiError {
  override readonly name = 'TooManyRequestsError';
  readonly status = 429;
  readonly code = 'throttled';
  constructor(route: string) {
    super(`too many requests to ${route}; retry with backoff`);
  }
}

/** 503: the model cannot answer right now (session failed to load or to run); other models keep serving. */
export class ModelUnavailableError extends ApiError {
  override readonly name = 'ModelUnavailableError';
  readonly status = 503;
  readonly code = 'model_unavailable';
}

/**
 * 504: the model's handler did not answer within the time the API waits for it (the function's timeout). One
 * fixed text, the same from API Gateway's INTEGRATION_TIMEOUT response (lib/serving/inference-api.ts) and the local
 * gateway, since the cloud's response cannot name the model or its version; the local log line does.
 */
export class GatewayTimeoutError extends ApiError {
  override readonly name = 'GatewayTimeoutError';
  readonly status = 504;
  readonly code = 'timeout';
  constructor() {
    super(GATEWAY_TIMEOUT_MESSAGE);
  }
}

export const GATEWAY_TIMEOUT_MESSAGE = "the model did not answer within its function's timeout (lambda.timeoutSeconds in the manifest); retry, or send fewer instances per request";

export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string };
}

export function errorBody(error: ApiError): ErrorBody {
  return { error: { code: error.code, message: error.message } };
}

/** The body for an unexpected failure: a fixed message, never the error's own text or stack. */
export const INTERNAL_ERROR_BODY: ErrorBody = { error: { code: 'internal_error', message: 'the server failed to answer; the failure was logged' } };
