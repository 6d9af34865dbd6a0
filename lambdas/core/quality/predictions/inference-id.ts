// Inference ids: the name of one answered request, so a label arriving hours later can find its prediction.
// A caller may choose it (the x-inference-id header, or the v2 body's `id`); otherwise mlship makes one:
// 16 random bytes (128 bits, unguessable) as base64url, 22 URL-safe characters.
import { randomFillSync } from 'node:crypto';
import { BadRequestError } from '../../serving/errors';
import { INFERENCE_ID_HEADER, INFERENCE_ID_PATTERN, MAX_INFERENCE_ID_CHARS } from '../contracts';

/** Bytes of randomness in a generated id. */
const ID_BYTES = 16;
/** Ids drawn per refill: one system call serves many requests (randomBytes per request costs several times more). */
const POOL_IDS = 256;
const pool = Buffer.alloc(ID_BYTES * POOL_IDS);
let next = POOL_IDS;

/** A new inference id: 22 characters of [A-Za-z0-9_-] holding 128 random bits. */
export function newInferenceId(): string {
  if (next === POOL_IDS) {
    randomFillSync(pool);
    next = 0;
  }
  const start = next++ * ID_BYTES;
  return pool.toString('base64url', start, start + ID_BYTES);
}

/** 400 `invalid_inference_id`: a caller's id that is not 1 to 128 visible ASCII characters. */
export class InvalidInferenceIdError extends BadRequestError {
  constructor(field: string, received: string) {
    super(`${field} must be 1 to ${MAX_INFERENCE_ID_CHARS} visible ASCII characters (no spaces), received ${describeId(received)}`, 'invalid_inference_id');
  }
}

function describeId(value: string): string {
  if (value === '') return 'an empty value';
  if (value.length > MAX_INFERENCE_ID_CHARS) return `${value.length} characters`;
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
}

/** Where a caller's id came from, as an error message names it. */
export const INFERENCE_ID_FIELDS = { header: `the ${INFERENCE_ID_HEADER} header`, body: "the request body's id" } as const;

/** The caller's id if it is a valid one; throws InvalidInferenceIdError naming `field` otherwise. */
export function checkInferenceId(value: string, field: string): string {
  if (!INFERENCE_ID_PATTERN.test(value)) throw new InvalidInferenceIdError(field, value);
  return value;
}
