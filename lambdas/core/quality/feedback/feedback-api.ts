// The feedback route's answer, shared by the cloud function (lambdas/feedback) and the local gateway
// (local/quality/feedback-route.ts): POST /v1/models/<name>/feedback with {"feedback": [...]}. The body is read
// as the model routes read theirs (415 for a content type that is not JSON, 413 past the body limit, 400 for
// malformed JSON), checked whole (parseFeedback: one bad item is a 400 and nothing is kept), then handed to a
// LabelSink, which stores the labels durably before the 202 `{accepted, duplicates}` is sent.
import type { LabelRecord } from '../contracts';
import { ApiError, BadRequestError, errorBody, INTERNAL_ERROR_BODY, MethodNotAllowedError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../../serving/errors';
import { parseFeedback, type FeedbackTarget } from './validate';

/** Where accepted labels go: S3 (with a DynamoDB ledger of what was seen) in the cloud, the state folder locally. */
export interface LabelSink {
  /**
   * Stores `labels` (one request's, each (id, index) once) durably, resolving once they are; `duplicates` is how
   * many of them name an (id, index) this model already has a label for (those replace nothing).
   */
  store(model: string, labels: readonly LabelRecord[], receivedAt: Date): Promise<{ readonly duplicates: number }>;
}

export interface FeedbackRequest {
  readonly method: string;
  readonly contentType: string | undefined;
  readonly body: string | null | undefined;
}

export interface FeedbackResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** What a 202 says: labels kept, and items that replaced nothing (the same id and index seen before, in this request or an earlier one). */
export interface FeedbackCounts {
  readonly accepted: number;
  readonly duplicates: number;
}

export interface FeedbackOptions {
  /** Longest body, bytes (the manifest's api.maxBodyBytes). */
  readonly maxBodyBytes: number;
  /** @default - now */
  readonly receivedAt?: Date;
  /** Told about a failure of the sink (the caller gets a 500 and may retry: nothing was acknowledged). */
  readonly onError?: (error: unknown) => void;
}

const JSON_MEDIA_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/** The body of a feedback request, parsed: throws the ApiError the request deserves. */
export function readFeedbackJson(request: FeedbackRequest, maxBodyBytes: number): unknown {
  if (request.method !== 'POST') throw new MethodNotAllowedError(request.method, 'the feedback route', ['POST']);
  const { contentType, body } = request;
  if (contentType !== undefined && contentType !== '' && !JSON_MEDIA_TYPE.test(contentType)) throw new UnsupportedMediaTypeError(contentType);
  if (body === null || body === undefined || body.trim() === '') throw new BadRequestError('request body is empty; send a JSON object {"feedback": [...]}', 'invalid_json');
  // UTF-16 length is at most the byte length: only measure bytes near the limit.
  if (body.length > maxBodyBytes / 3 && Buffer.byteLength(body, 'utf8') > maxBodyBytes) throw new PayloadTooLargeError(maxBodyBytes);
  try {
    return JSON.parse(body);
  } catch (error) {
    throw new BadRequestError(`request body is not valid JSON: ${(error as Error).message.slice(0, 200)}`, 'invalid_json');
  }
}

/** Answers one feedback request for the model `target`: 202 with the counts once the labels are stored, or the error. */
export async function answerFeedback(request: FeedbackRequest, target: FeedbackTarget, sink: LabelSink, options: FeedbackOptions): Promise<FeedbackResponse> {
  const headers = { 'content-type': 'application/json', 'x-model-name': target.model };
  const receivedAt = options.receivedAt ?? new Date();
  let parsed;
  try {
    parsed = parseFeedback(readFeedbackJson(request, options.maxBodyBytes), target, receivedAt);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    const extra: Record<string, string> = error instanceof MethodNotAllowedError ? { allow: error.allowed.join(', ') } : {};
    return { statusCode: error.status, headers: { ...headers, ...extra }, body: JSON.stringify(errorBody(error)) };
  }
  let stored;
  try {
    stored = await sink.store(target.model, parsed.labels, receivedAt);
  } catch (error) {
    options.onError?.(error);
    return { statusCode: 500, headers, body: JSON.stringify(INTERNAL_ERROR_BODY) };
  }
  const counts: FeedbackCounts = { accepted: parsed.labels.length - stored.duplicates, duplicates: parsed.duplicates + stored.duplicates };
  return { statusCode: 202, headers, body: JSON.stringify(counts) };
}
