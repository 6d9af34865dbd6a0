// Runs generated requests (./generate.ts) against a real local gateway: the `npm start` bundle as a child
// process, with --expose-gc and a memory probe preloaded. Every request goes on its own connection, as raw
// bytes; every answer is checked: no 5xx, a JSON error body {"error": {"code", "message"}} or a valid
// success (SageMaker's own shapes on /endpoints/), and an answer at all unless the request never completes;
// never a reset (EPIPE, ECONNRESET) under the client, which writes every part of its request, as a client
// that sends its whole request before reading does.
// The gateway must keep answering its health check, and its heap after a forced GC must come back to the
// level after warm-up.
// Over 400 lines: the fuzzer's raw HTTP client, its checks of every answer and the target process, kept together.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { loadManifest, resolveManifestPath } from '../../lambdas/core/manifest/load';
import { generateRequest, KINDS, type FuzzContext, type FuzzKind, type FuzzModel, type FuzzRequest } from './generate';

export const PROBE = fileURLToPath(new URL('./fuzz-probe.mjs', import.meta.url));

export interface RawAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  /** Repeated header names (content-type twice would be a bug of ours). */
  readonly repeated: readonly string[];
  readonly body: Buffer;
}

export interface Exchange {
  readonly answer?: RawAnswer;
  /** Every answer read on the connection, in order (more than one for pipelined requests). */
  readonly answers?: readonly RawAnswer[];
  /** Why there is no answer: 'closed' (the gateway closed without one), 'timeout' (we gave up), or a socket error. */
  readonly none?: string;
  /**
   * The connection failed under the client (EPIPE, ECONNRESET: the gateway closed it on bytes it had not
   * read, which costs a client that sends its whole request before reading, as Python's does, the answer).
   * Always a failure, whatever was read before it.
   */
  readonly error?: string;
  /**
   * Bytes that came after an answer saying `connection: close` (the start of them): nothing may follow
   * such an answer on its connection. Always a failure.
   */
  readonly trailing?: string;
}

function parseHead(head: string): Omit<RawAnswer, 'body'> | undefined {
  const lines = head.split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
  if (!status) return undefined;
  const headers: Record<string, string> = {};
  const repeated: string[] = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon).toLowerCase();
    if (name in headers) repeated.push(name);
    headers[name] = line.slice(colon + 1).trim();
  }
  return { status: Number(status[1]), headers, repeated };
}

/** A chunked body's bytes, or undefined while incomplete. */
function dechunk(data: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = data.indexOf('\r\n', at);
    if (eol === -1) return undefined;
    const size = parseInt(data.subarray(at, eol).toString('latin1'), 16);
    if (!Number.isFinite(size)) return Buffer.alloc(0);
    if (size === 0) return data.length >= eol + 4 ? Buffer.concat(parts) : undefined;
    if (data.length < eol + 2 + size + 2) return undefined;
    parts.push(data.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

/**
 * Sends the parts on one new connection and reads one answer (skipping a 100 Continue), or one per request
 * of a pipeline, until the gateway closes the connection or says it will; as a client that sends its whole
 * request before it reads, the exchange ends only once every part is written (or on a socket error).
 */
export function exchange(port: number, request: Pick<FuzzRequest, 'parts' | 'method'> & { readonly pipeline?: FuzzRequest['pipeline'] }, timeoutMs: number): Promise<Exchange> {
  const expected = request.pipeline?.length ?? 1;
  return new Promise((resolve) => {
    // Half-open, as a plain socket client (Python's): the gateway's end of its answer does not stop it sending.
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    let data = Buffer.alloc(0);
    let settled = false;
    let unwritten = request.parts.length;
    let error: string | undefined;
    let trailing: string | undefined;
    let ready: Exchange | undefined;
    const answers: RawAnswer[] = [];
    const done = (result: Exchange) => {
      if (settled) return;
      // Answered while parts are still to be written: the client writes them all before it is done.
      if (unwritten > 0 && error === undefined && !socket.destroyed && result.none !== 'timeout') return void (ready ??= result);
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...result, ...(error !== undefined ? { error } : {}), ...(trailing !== undefined ? { trailing } : {}) });
    };
    // One answer read: the exchange ends when all came, or the gateway closes the connection after this one.
    const finish = (result: Exchange) => {
      if (!result.answer) return done(answers.length > 0 ? { answer: answers[0]!, answers, none: result.none } : result);
      answers.push(result.answer);
      if (answers.length >= expected || result.answer.headers.connection === 'close') return done({ answer: answers[0]!, answers });
      return 'more';
    };
    const timer = setTimeout(() => void finish({ none: 'timeout' }), timeoutMs);
    const method = (i: number) => request.pipeline?.[i]?.method ?? request.method;
    const tryParse = (ended: boolean): void => {
      for (;;) {
        if (settled) return;
        // Ready once the answer that ends the exchange came: bytes after one saying `connection: close` are wrong.
        if (ready) return void (data.length > 0 && closedBy(ready) && (trailing ??= data.subarray(0, 80).toString('latin1')));
        const end = data.indexOf('\r\n\r\n');
        if (end === -1) return ended ? void finish({ none: data.length > 0 ? `garbage: ${data.subarray(0, 80).toString('latin1')}` : 'closed' }) : undefined;
        const head = parseHead(data.subarray(0, end).toString('latin1'));
        if (!head) return void finish({ none: `not HTTP: ${data.subarray(0, 80).toString('latin1')}` });
        const rest = data.subarray(end + 4);
        if (head.status === 100) {
          data = rest;
          continue;
        }
        let body: Buffer | undefined;
        let used = 0;
        if (method(answers.length) === 'HEAD' || head.status === 204 || head.status === 304) {
          body = Buffer.alloc(0);
        } else if (head.headers['transfer-encoding']?.includes('chunked')) {
          body = dechunk(rest);
          // Pipelines are only checked on answers with a content-length (all of the gateway's).
          used = rest.length;
        } else if (head.headers['content-length'] !== undefined) {
          const length = Number(head.headers['content-length']);
          if (rest.length >= length) {
            body = rest.subarray(0, length);
            used = length;
          }
        } else if (ended) {
          body = rest;
          used = rest.length;
        }
        if (!body) return ended ? void finish({ none: 'closed mid-answer' }) : undefined;
        data = rest.subarray(used);
        if (data.length > 0 && head.headers.connection === 'close') trailing ??= data.subarray(0, 80).toString('latin1');
        if (finish({ answer: { ...head, body } }) !== 'more') return;
      }
    };
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      tryParse(false);
    });
    socket.on('end', () => tryParse(true));
    socket.on('close', () => tryParse(true));
    socket.on('error', (failure: NodeJS.ErrnoException) => {
      error = failure.code ?? failure.message;
      if (ready) return done(ready);
      if (data.length > 0) tryParse(true);
      void finish({ none: `socket ${error}` });
    });
    socket.once('connect', () => {
      // The pieces a few ms apart, so the gateway reads them as separate chunks, each one's timer set when
      // the one before it is written. (Timers set at once, at 0 and 2 ms, are not run in that order by node
      // when its loop runs late: another request's 2 ms timer, due first, takes its whole list ahead of the
      // 1 ms list, so the second piece went out first and the gateway rightly refused the request's middle
      // as 'not an HTTP method'. That was the 'pipelining race' of the fuzz test, about one request in
      // 10,000 under load: the client's, not the gateway's.)
      const write = (i: number): void => {
        if (i >= request.parts.length) return;
        if (socket.destroyed) {
          unwritten = 0;
          if (ready) done(ready);
          return;
        }
        socket.write(request.parts[i]!, (failed) => {
          if (failed || --unwritten > 0 || !ready) return;
          done(ready);
        });
        if (i + 1 < request.parts.length) setTimeout(() => write(i + 1), 2);
      };
      write(0);
    });
  });
}

/** Whether the exchange's last answer says the connection closes. */
function closedBy(result: Exchange): boolean {
  return (result.answers ?? (result.answer ? [result.answer] : [])).at(-1)?.headers.connection === 'close';
}

/** What is wrong with the answer to a request, or undefined when it is fine. */
export function checkExchange(request: FuzzRequest, result: Exchange, apiKey?: string): string | undefined {
  if (result.error !== undefined) return `the connection failed under the client (socket ${result.error}) after ${result.answers?.length ?? (result.answer ? 1 : 0)} answers`;
  // After an answer that closes the connection, nothing: a pipelined request behind it is not answered.
  if (result.trailing !== undefined) return `bytes after an answer saying connection: close: ${JSON.stringify(result.trailing)}`;
  if (request.pipeline) {
    const answers = result.answers ?? [];
    for (const [i, sub] of request.pipeline.entries()) {
      const answer = answers[i];
      if (!answer) {
        // Fewer answers than requests only after an answer that closed the connection (a body it did not read).
        if (answers.at(-1)?.headers.connection === 'close') return undefined;
        return `no answer to pipelined request ${i + 1} of ${request.pipeline.length} (${result.none ?? 'the connection stayed open'})`;
      }
      const problem = checkExchange({ ...request, ...sub, pipeline: undefined, expect: 'answer' }, { answer }, apiKey);
      if (problem) return `pipelined request ${i + 1} of ${request.pipeline.length} [${sub.kind}]: ${problem}`;
    }
    return undefined;
  }
  const { answer } = result;
  if (!answer) return request.expect === 'maybe' ? undefined : `no answer (${result.none})`;
  if (answer.status >= 500) return `answered ${answer.status}`;
  if (apiKey !== undefined && answer.body.includes(apiKey)) return 'the answer holds the API key';
  // A valid request is answered 200 (or 403 when it was sent without the key or with a wrong one on purpose).
  if (request.kind === 'valid' && answer.status !== 200 && answer.status !== 403) return `a valid request answered ${answer.status}: ${answer.body.subarray(0, 200).toString('utf8')}`;
  if (answer.repeated.length > 0) return `header repeated: ${answer.repeated.join(', ')}`;
  if (request.method === 'HEAD') return undefined;
  const type = answer.headers['content-type'] ?? '';
  const path = request.path.split('?')[0]!;
  if (answer.status === 200 && (path === '/' || path === '//') && type.startsWith('text/html')) return undefined;
  if (!type.startsWith('application/json')) return `content-type '${type}' (status ${answer.status}): ${answer.body.subarray(0, 120).toString('latin1')}`;
  let json: unknown;
  try {
    json = JSON.parse(answer.body.toString('utf8'));
  } catch {
    return `body is not JSON (status ${answer.status}): ${answer.body.subarray(0, 120).toString('latin1')}`;
  }
  const body = json as Record<string, unknown>;
  const endpoint = path.startsWith('/endpoints/');
  if (answer.status >= 400) {
    const error = body.error as Record<string, unknown> | undefined;
    if (endpoint && (typeof body.message === 'string' || typeof body.Message === 'string' || typeof body.ErrorCode === 'string')) {
      if (answer.status === 424 && body.OriginalStatusCode !== 400) return `endpoint refused with OriginalStatusCode ${String(body.OriginalStatusCode)} (the model failed, not the request): ${String(body.Message).slice(0, 200)}`;
      return undefined;
    }
    if (typeof error !== 'object' || error === null || typeof error.code !== 'string' || typeof error.message !== 'string') return `error body is not {"error": {"code", "message"}}: ${answer.body.subarray(0, 200).toString('utf8')}`;
    if (/\n\s+at /.test(error.message)) return 'the error message holds a stack trace';
    // A message quotes at most a bounded piece of what was sent (no echo of a megabyte string).
    if (error.message.length > 1000) return `an error message of ${error.message.length} characters: ${error.message.slice(0, 200)}...`;
    return undefined;
  }
  if (typeof body !== 'object' || body === null) return `success body is not an object: ${answer.body.subarray(0, 120).toString('utf8')}`;
  if (path.endsWith(':predict') && !(Array.isArray(body.predictions) && body.predictions.length > 0)) return 'a 200 to :predict without predictions';
  if ((path.endsWith('/infer') || endpoint) && !Array.isArray(body.outputs)) return 'a 200 to infer without outputs';
  if (answer.status === 200 && (path.endsWith(':predict') || path.endsWith('/infer')) && answer.headers['x-model-version'] === undefined) return 'a 200 without x-model-version';
  // The shipped models answer finite probabilities for finite inputs: a null (NaN or Infinity written as JSON) means bad input got through.
  if (path.endsWith(':predict') || path.endsWith('/infer') || endpoint) {
    const numbers = JSON.stringify(body.outputs ?? body.predictions);
    if (/[[,:]null[,\]}]/.test(numbers)) return `a 200 holding null scores (bad input scored): ${numbers.slice(0, 200)}`;
  }
  return undefined;
}

export interface MemoryFigures {
  readonly heapUsed: number;
  readonly rss: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

export interface FuzzTarget {
  readonly port: number;
  readonly child: ChildProcess;
  /** The gateway's memory after two forced full GCs. */
  memory(): Promise<MemoryFigures>;
  /** Whether GET /v2/health/live answers 200 {"live":true}. */
  healthy(): Promise<boolean>;
  /** The gateway's stderr and stdout so far (the last 20 KB). */
  log(): string;
  /** The gateway's ERROR log lines so far, counted by message. */
  errors(): Record<string, number>;
  stop(): Promise<number | null>;
}

/** Starts the bundle (already built) as `npm start` runs it, with --expose-gc and the memory probe. */
export async function startTarget(bundle: string, stateDir: string, env: Record<string, string> = {}): Promise<FuzzTarget> {
  const child = spawn(process.execPath, ['--expose-gc', '--import', PROBE, bundle, '--port', '0', '--admin-port', '0', '--state-dir', stateDir], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let out = '';
  let partial = '';
  const errors: Record<string, number> = {};
  const keep = (chunk: Buffer) => {
    const text = chunk.toString();
    out = (out + text).slice(-20_000);
    const lines = (partial + text).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (!line.includes('"level":"ERROR"')) continue;
      const message = /"message":"([^"]*)"/.exec(line)?.[1] ?? line.slice(0, 100);
      errors[message] = (errors[message] ?? 0) + 1;
    }
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const deadline = Date.now() + 30_000;
  let port: number | undefined;
  while (port === undefined && Date.now() < deadline && child.exitCode === null) {
    const match = /serving \d+ models? on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
    if (match && out.includes('Ctrl-C')) port = Number(match[1]);
    else await new Promise((r) => setTimeout(r, 20));
  }
  if (port === undefined) {
    child.kill('SIGKILL');
    throw new Error(`the gateway did not start: ${out}`);
  }
  const bound = port;
  return {
    port: bound,
    child,
    memory: async () => {
      const reply = once(child, 'message') as Promise<[{ memory: MemoryFigures }]>;
      child.send('memory');
      const [{ memory }] = await reply;
      return memory;
    },
    healthy: async () => {
      const result = await exchange(bound, { method: 'GET', parts: [Buffer.from('GET /v2/health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')] }, 5000);
      return result.answer?.status === 200 && result.answer.body.toString() === '{"live":true}';
    },
    log: () => out,
    errors: () => ({ ...errors }),
    stop: async () => {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGINT');
      const [code] = (await once(child, 'exit')) as [number | null];
      return code;
    },
  };
}

/** The fuzz context of a manifest: its models as the generator needs them. */
export function fuzzContext(manifestPath?: string, apiKey?: string): FuzzContext {
  const loaded = loadManifest(resolveManifestPath(manifestPath));
  const models: FuzzModel[] = loaded.models.map(({ entry, card }) => ({
    name: entry.name,
    version: entry.version,
    tensorName: card.input.tensorName,
    features: card.input.features,
    ...(card.input.image ? { image: card.input.image } : {}),
    maxBatchSize: entry.maxBatchSize,
    sample: card.golden[0]?.input ?? card.input.features.map(() => 0),
  }));
  return { models, maxBodyBytes: loaded.manifest.api.maxBodyBytes, ...(apiKey ? { apiKey } : {}) };
}

export interface FuzzFailure {
  readonly seed: number;
  readonly request: FuzzRequest;
  readonly problem: string;
  readonly answer: string;
}

export interface FuzzSummary {
  readonly seed: number;
  readonly requests: number;
  readonly ms: number;
  readonly byKind: Record<FuzzKind, number>;
  readonly statuses: Record<string, number>;
  readonly failures: FuzzFailure[];
  readonly healthChecks: number;
  readonly unhealthy: number;
}

export interface FuzzOptions {
  readonly seed: number;
  /** Requests to send (indexes from..from+requests-1). */
  readonly requests: number;
  readonly from?: number;
  /** Stop starting new requests after this long, ms. @default no limit */
  readonly timeBudgetMs?: number;
  /** Connections at once. @default 8 */
  readonly concurrency?: number;
  /** How long a client waits for an answer, ms (a request that never completes: at most 250). @default 3000 */
  readonly answerTimeoutMs?: number;
  /** A health check every this many requests. @default 500 */
  readonly healthEvery?: number;
  /** Stop after this many failures. @default 20 */
  readonly maxFailures?: number;
}

/** Describes a request for a failure report: its kind, what it is, and its bytes (cut at 1.5 KB). */
export function describeRequest(seed: number, request: FuzzRequest): string {
  const bytes = Buffer.concat(request.parts as Buffer[]);
  const shown = bytes.length > 1500 ? `${bytes.subarray(0, 1500).toString('latin1')}... (${bytes.length} bytes)` : bytes.toString('latin1');
  return `seed ${seed} request ${request.index} [${request.kind}] ${request.what}\n${JSON.stringify(shown)}`;
}

export async function fuzz(target: FuzzTarget, ctx: FuzzContext, options: FuzzOptions): Promise<FuzzSummary> {
  const { seed, requests } = options;
  const from = options.from ?? 0;
  const concurrency = options.concurrency ?? 8;
  const timeout = options.answerTimeoutMs ?? 3000;
  const healthEvery = options.healthEvery ?? 500;
  const maxFailures = options.maxFailures ?? 20;
  const started = performance.now();
  const byKind = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<FuzzKind, number>;
  const statuses: Record<string, number> = {};
  const failures: FuzzFailure[] = [];
  let next = from;
  let sent = 0;
  let healthChecks = 0;
  let unhealthy = 0;
  const worker = async () => {
    for (;;) {
      if (next >= from + requests || failures.length >= maxFailures) return;
      if (options.timeBudgetMs !== undefined && performance.now() - started > options.timeBudgetMs) return;
      const index = next++;
      const request = generateRequest(seed, index, ctx);
      // A request that never completes only waits long enough to show the gateway does not answer it wrongly.
      const result = await exchange(target.port, request, request.expect === 'maybe' ? Math.min(timeout, 250) : timeout);
      sent++;
      byKind[request.kind]++;
      // Every answer counts, the pipelined ones too.
      const answered = result.answers ?? (result.answer ? [result.answer] : []);
      for (const a of answered) statuses[String(a.status)] = (statuses[String(a.status)] ?? 0) + 1;
      if (answered.length === 0) {
        const none = `none (${result.none?.startsWith('socket') ? 'socket error' : result.none})`;
        statuses[none] = (statuses[none] ?? 0) + 1;
      }
      const problem = checkExchange(request, result, ctx.apiKey);
      if (problem) {
        const answer = result.answer ? `${result.answer.status} ${JSON.stringify(result.answer.headers)} ${result.answer.body.subarray(0, 300).toString('utf8')}` : `none: ${result.none}`;
        failures.push({ seed, request, problem, answer });
      }
      if (sent % healthEvery === 0) {
        healthChecks++;
        if (!(await target.healthy())) unhealthy++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => worker()));
  healthChecks++;
  if (!(await target.healthy())) unhealthy++;
  return { seed, requests: sent, ms: performance.now() - started, byKind, statuses, failures, healthChecks, unhealthy };
}
