// Early answers and the lingering close: how the local gateway answers a request before it has read the
// request's body (413 too large, 403 without the key, 404, 405, 417, 429) without the client losing the
// answer.
//
// Closing a TCP connection while the client's bytes are still arriving, unread, makes the kernel answer
// them with a reset: the client's next write fails (EPIPE, ECONNRESET), and a client that sends its whole
// body before it reads (Python's http.client, urllib and requests, Java's HttpURLConnection) never reads
// the answer that was sent. Node's HTTP server does exactly that after an answer saying `connection:
// close`: it destroys the socket as soon as the answer is written. So, as nginx does (lingering_close,
// lingering_time 30 s, lingering_timeout 5 s) and Go's net/http in its way: the answer says
// `connection: close`, the connection is half-closed after it (the client reads the answer and its end),
// and whatever the client still sends is read and dropped, never parsed as a request, until the client
// closes its side; only then is the socket closed. Past a number of bytes dropped, a total time or an idle
// time the socket is destroyed: a client may not hold a connection or a core by sending forever.
//
// Two behaviours of node's HTTP server are relied on, both checked by test/e2e/early-answers.test.ts (a
// node that changed them would fail it, not reset clients silently): it stops feeding its parser from a
// socket that gets a 'data' listener of its own, and it closes after a `connection: close` answer by
// calling socket.destroySoon().
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface LingerLimits {
  /** Most bytes read and dropped after an early answer; past it the connection is destroyed. */
  readonly maxBytes: number;
  /** Longest a connection lingers from its early answer, ms; then it is destroyed. */
  readonly maxMs: number;
  /** Longest wait for the client's next bytes (or its close) once the answer is written, ms. */
  readonly idleMs: number;
}

/**
 * nginx's timings (lingering_time 30 s, lingering_timeout 5 s). 64 MiB: what a client may send to a 1 MiB
 * API by mistake (ten times the limit is a batch too large, not an attack) with room to spare, read and
 * dropped on loopback in well under a second; the gateway raises it with a larger api.maxBodyBytes.
 */
export const DEFAULT_LINGER_LIMITS: LingerLimits = { maxBytes: 64 * 1024 * 1024, maxMs: 30_000, idleMs: 5_000 };

export interface EarlyAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface EarlyAnswerOptions {
  /**
   * Body bytes read (and dropped) before answering: a body that ends within them is answered on a connection
   * that stays open, as API Gateway reads a whole request before it answers; a larger one is not read further,
   * and the connection closes lingering. 0: answer at once.
   */
  readonly readUpTo: number;
  /** Close the connection after the answer, whatever the body. @default false */
  readonly close?: boolean;
  readonly limits: LingerLimits;
  /** Aborted: lingering connections close as soon as their answer is written (the server is stopping). */
  readonly signal?: AbortSignal;
}

/** The lingering connections, each with its handle. */
const lingering = new WeakMap<object, { answered(): void }>();

/** Whether this connection is closing after an early answer: what it still sends is dropped, never parsed. */
export function isLingering(socket: object): boolean {
  return lingering.has(socket);
}

/** Whether the request has body bytes still to arrive. At its 'request' event a request is never complete yet, so the headers say. */
function bodyPending(req: IncomingMessage): boolean {
  if (req.complete) return false;
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/**
 * Takes a connection away from node's HTTP parser and closes it lingering. From this call on, every byte
 * the client sends is dropped (counted, never parsed), and the connection counts as lingering (isLingering):
 * the rest of a chunk node has already read is still parsed, and a request found there must be left
 * unanswered. Then, once the caller says its answer is written (`answered()`), the connection is
 * half-closed and waits for the client to close its side, then is closed. Past `limits`, or once `signal`
 * is aborted and the answer is written, it is destroyed. A second call returns the first one's handle.
 */
export function lingeringClose(socket: Socket, limits: LingerLimits, signal?: AbortSignal): { answered(): void } {
  const known = lingering.get(socket);
  if (known) return known;
  if (socket.destroyed) return { answered: () => undefined };
  let dropped = 0;
  let answered = false;
  let stopping = false;
  let idle: NodeJS.Timeout | undefined;
  const cut = (): void => void socket.destroy();
  const armIdle = () => {
    clearTimeout(idle);
    idle = setTimeout(cut, limits.idleMs).unref();
  };
  const drop = (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > limits.maxBytes) return cut();
    if (answered) armIdle();
  };
  const stop = () => {
    stopping = true;
    if (answered) closeWhenWritten(socket);
  };
  const handle = {
    answered() {
      if (answered) return;
      answered = true;
      if (!socket.writableEnded) socket.end();
      if (socket.readableEnded || stopping) closeWhenWritten(socket);
      else armIdle();
    },
  };
  lingering.set(socket, handle);
  // Node's HTTP server reads a connection through its parser, natively, and hands it over to JavaScript
  // 'data' listeners as soon as one is added (as for 'upgrade' and 'connect'); its own listener, which
  // would feed the parser, is removed.
  socket.on('data', drop);
  for (const listener of socket.listeners('data')) if (listener !== drop) socket.removeListener('data', listener as (chunk: Buffer) => void);
  socket.resume();
  // The server keeps the process alive, not a connection it is closing.
  const total = setTimeout(cut, limits.maxMs).unref();
  signal?.addEventListener('abort', stop, { once: true });
  if (signal?.aborted) stop();
  socket.once('close', () => {
    clearTimeout(total);
    clearTimeout(idle);
    signal?.removeEventListener('abort', stop);
  });
  // The client closed its side: done once the answer is out.
  socket.once('end', () => {
    if (answered) closeWhenWritten(socket);
  });
  return handle;
}

/**
 * Every connection of `server` that node closes after an answer saying `connection: close` (the client
 * asked for it, or spoke HTTP/1.0, or the server is stopping) closes lingering too: a client that sent
 * bytes after such a request (which are never parsed) reads the answer rather than a reset. Node closes
 * such a connection with socket.destroySoon() once the answer is written.
 */
export function closeConnectionsLingering(server: Server, limits: LingerLimits, signal?: AbortSignal): void {
  server.on('connection', (socket: Socket) => {
    socket.destroySoon = () => lingeringClose(socket, limits, signal).answered();
  });
}

function closeWhenWritten(socket: Socket): void {
  if (socket.writableFinished) socket.destroy();
  else socket.once('finish', () => socket.destroy());
}

/**
 * Answers a request whose body has not been read. With `close`, or a body larger than `readUpTo`, the
 * answer goes at once, says `connection: close`, and the connection closes lingering. Otherwise the body
 * (if any) is read and dropped first, and the connection stays open for the client's next request.
 */
export function answerEarly(req: IncomingMessage, res: ServerResponse, answer: EarlyAnswer, options: EarlyAnswerOptions): void {
  if (options.close || Number(req.headers['content-length'] ?? 0) > options.readUpTo) return answerAndLinger(req, res, answer, options);
  if (!bodyPending(req)) {
    req.resume();
    return send(res, answer, false);
  }
  let size = 0;
  const onData = (chunk: Buffer) => {
    size += chunk.length;
    if (size <= options.readUpTo) return;
    req.off('data', onData);
    req.off('end', onEnd);
    answerAndLinger(req, res, answer, options);
  };
  const onEnd = () => {
    req.off('data', onData);
    send(res, answer, false);
  };
  req.on('data', onData);
  req.once('end', onEnd);
}

/**
 * The body as text, or undefined when it is larger than the limit (API Gateway's 413): then nothing more of
 * it is read here, and `tooLarge` is called at once, as the size is known (a declared length, or the chunk
 * past the limit), so that its early answer makes the connection lingering before node parses the rest of
 * the chunk it read (a request found there is then left unanswered).
 */
export function readBody(req: IncomingMessage, limit: number, tooLarge: () => void): Promise<string | undefined> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) {
    tooLarge();
    return Promise.resolve(undefined);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      req.off('data', onData);
      req.off('end', onEnd);
      tooLarge();
      resolve(undefined);
    };
    const onEnd = () => resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'));
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', reject);
  });
}

/** The answer with `connection: close`, then the lingering close of its connection. */
function answerAndLinger(req: IncomingMessage, res: ServerResponse, answer: EarlyAnswer, options: EarlyAnswerOptions): void {
  const socket = req.socket;
  const linger = lingeringClose(socket, options.limits, options.signal);
  // What node has read of the body still reaches the request: it flows and is dropped, so that it never
  // holds the connection (a request nobody reads pauses its socket).
  req.resume();
  // Node closes a connection after an answer saying `connection: close` with socket.destroySoon(), once the
  // answer (and any answer queued ahead of it on a pipelined connection) is written: here that is where the
  // lingering close begins instead.
  socket.destroySoon = () => linger.answered();
  send(res, answer, true);
}

function send(res: ServerResponse, answer: EarlyAnswer, close: boolean): void {
  if (res.destroyed) return;
  res.writeHead(answer.status, { ...answer.headers, ...(close ? { connection: 'close' } : {}), 'content-length': String(Buffer.byteLength(answer.body)) });
  res.end(answer.body);
}
