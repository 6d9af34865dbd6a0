// The local gateway's API key: API Gateway's `apiKeyRequired` at home. When a key is set, every route but
// the two health routes needs the header x-api-key holding it; the comparison is in constant time over
// SHA-256 digests (equal lengths whatever the caller sends), and the key is never logged or echoed.
//
// Where the key comes from: a file (--api-key-file) or the environment (MLSHIP_API_KEY), never a plain
// command-line flag: a process's arguments are readable by every user of the machine (`ps`,
// /proc/<pid>/cmdline), its environment and a 0600 file only by its owner.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { ForbiddenError } from '../../lambdas/core/serving/errors';

/** The routes a caller reaches without a key: load balancers and orchestrators probe them unauthenticated. */
export const OPEN_PATHS: ReadonlySet<string> = new Set(['/v2/health/live', '/v2/health/ready', '/v2/health/live/', '/v2/health/ready/']);

/** API Gateway's own bounds on an API key's value. */
export const API_KEY_MIN_LENGTH = 20;
export const API_KEY_MAX_LENGTH = 128;
/** Printable ASCII without spaces: what a header carries unchanged. */
const KEY_CHARACTERS = /^[\x21-\x7e]+$/;

export class ApiKeyError extends Error {
  override readonly name = 'ApiKeyError';
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Checks the x-api-key header against the one key. */
export class ApiKeyCheck {
  private readonly expected: Buffer;

  constructor(key: string) {
    validateApiKey(key, 'the API key');
    this.expected = digest(key);
  }

  /** Undefined when the header holds the key; else the 403 to answer (which never repeats what was sent). */
  check(header: string | string[] | undefined): ForbiddenError | undefined {
    // A repeated header arrives joined (or as an array): it is not the key, whatever it holds.
    const sent = Array.isArray(header) ? header.join(', ') : header;
    if (sent === undefined || sent === '') return new ForbiddenError('this API requires an API key: send it in the x-api-key header');
    if (timingSafeEqual(digest(sent), this.expected)) return undefined;
    return new ForbiddenError('the API key in the x-api-key header is not valid for this API');
  }
}

export function validateApiKey(key: string, source: string): void {
  if (key.length < API_KEY_MIN_LENGTH || key.length > API_KEY_MAX_LENGTH) {
    throw new ApiKeyError(`${source} must be ${API_KEY_MIN_LENGTH} to ${API_KEY_MAX_LENGTH} characters, received ${key.length}`);
  }
  if (!KEY_CHARACTERS.test(key)) throw new ApiKeyError(`${source} must be printable ASCII without spaces (it travels in a header)`);
}

export interface ApiKeySource {
  /** --api-key-file: the key is the file's content, without surrounding whitespace. */
  readonly file?: string;
  /** The environment (MLSHIP_API_KEY). */
  readonly env?: NodeJS.ProcessEnv;
}

export interface LoadedApiKey {
  readonly key: string;
  readonly from: string;
  /** A reason to tighten the file's mode, when others can read it. */
  readonly warning?: string;
}

/** The key from --api-key-file or MLSHIP_API_KEY (not both), validated; undefined when neither is set. */
export function loadApiKey({ file, env = process.env }: ApiKeySource): LoadedApiKey | undefined {
  const fromEnv = env.MLSHIP_API_KEY;
  if (file !== undefined && fromEnv !== undefined) throw new ApiKeyError('set the API key with --api-key-file or MLSHIP_API_KEY, not both');
  if (file !== undefined) {
    let text: string;
    let mode: number;
    try {
      text = readFileSync(file, 'utf8');
      mode = statSync(file).mode;
    } catch (error) {
      throw new ApiKeyError(`cannot read the API key file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    const key = text.trim();
    validateApiKey(key, `the API key in ${file}`);
    const warning = process.platform !== 'win32' && (mode & 0o077) !== 0 ? `${file} is readable by other users (mode ${(mode & 0o777).toString(8)}); chmod 600 it` : undefined;
    return { key, from: file, ...(warning ? { warning } : {}) };
  }
  if (fromEnv !== undefined) {
    // Set but empty (MLSHIP_API_KEY="$(cat missing-file)") must not start an open API.
    validateApiKey(fromEnv, 'MLSHIP_API_KEY');
    return { key: fromEnv, from: 'MLSHIP_API_KEY' };
  }
  return undefined;
}
