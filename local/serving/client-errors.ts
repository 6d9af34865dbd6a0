// Answers for requests node:http refuses before any handler sees them (not HTTP/1.1, an unknown method,
// content-length repeated or next to transfer-encoding, a bad chunk, headers over 16 KB, CONNECT): node's
// own answer is a bare "400 Bad Request" with no body, or a closed connection. The API promises a JSON error
// body for every refusal, so these get one too: {"error": {"code", "message"}}, then the connection closes.
// A request read in full before the bad bytes (pipelined garbage) keeps its answer: the refusal waits until
// it is sent. A request whose own body is bad (a malformed chunk) gets the refusal at once. Either way the
// connection then closes lingering (lingering-close.ts): what the client still sends is dropped, so that a
// client still uploading reads the refusal rather than a reset.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { answerEarly, DEFAULT_LINGER_LIMITS, isLingering, lingeringClose, type LingerLimits } from './lingering-close';

interface Refusal {
  readonly status: number;
  readonly reason: string;
  readonly code: string;
  readonly message: string;
}

const REASONS: Record<number, string> = { 400: 'Bad Request', 405: 'Method Not Allowed', 408: 'Request Timeout', 413: 'Payload Too Large', 431: 'Request Header Fields Too Large' };

function refusal(status: number, code: string, message: string): Refusal {
  return { status, reason: REASONS[status] ?? 'Bad Request', code, message };
}

/** What to answer for one of node's parse errors (llhttp's codes; its reasons are fixed texts, never the caller's bytes). */
export function refusalFor(error: NodeJS.ErrnoException & { reason?: string }): Refusal {
  const reason = typeof error.reason === 'string' ? error.reason.replace(/[^\w\s`'-]/g, '').slice(0, 100) : undefined;
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return refusal(431, 'headers_too_large', 'the request line and headers are larger than the limit of 16 KB; send a shorter URL and fewer headers');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'HPE_HEADERS_TIMEOUT':
      return refusal(408, 'request_timeout', 'the request did not arrive in time');
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return refusal(413, 'payload_too_large', 'the chunk extensions are too large');
    case 'HPE_INVALID_METHOD':
      return refusal(400, 'invalid_request', 'the request method is not an HTTP method this API knows; use GET or POST');
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_INVALID_TRANSFER_ENCODING':
      return refusal(400, 'invalid_request', `content-length or transfer-encoding is invalid, repeated, or both are sent${reason ? ` (${reason})` : ''}`);
    case 'HPE_INVALID_CHUNK_SIZE':
    case 'HPE_STRICT':
      return refusal(400, 'invalid_request', `the chunked body is malformed${reason ? ` (${reason})` : ''}`);
    default:
      return refusal(400, 'invalid_request', `the request is not valid HTTP/1.1${reason ? ` (${reason})` : ''}`);
  }
}

function write(socket: Duplex, answer: Refusal): void {
  if (!socket.writable) return void socket.destroy();
  const body = JSON.stringify({ error: { code: answer.code, message: answer.message } });
  socket.write(`HTTP/1.1 ${answer.status} ${answer.reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

export interface ClientErrorOptions {
  /** Bounds of the lingering close after a refusal. @default DEFAULT_LINGER_LIMITS */
  readonly limits?: LingerLimits;
  /** Aborted: lingering connections close as soon as their answer is written (the server is stopping). */
  readonly signal?: AbortSignal;
}

/**
 * Installs the JSON answers on a server: for parse errors ('clientError'), CONNECT ('connect') and an
 * Expect header other than 100-continue ('checkExpectation'). Call it before the server handles requests.
 */
export function answerClientErrors(server: Server, { limits = DEFAULT_LINGER_LIMITS, signal }: ClientErrorOptions = {}): void {
  // The response in progress on each connection: a refusal waits for it to be sent. `finished`: its 'finish'
  // came (res.writableFinished may be true before it, when the socket took the answer at once; node closes
  // a connection whose answer says `connection: close` only at 'finish').
  const answering = new WeakMap<Duplex, { req: IncomingMessage; res: ServerResponse; finished: boolean }>();
  const refused = new WeakSet<Duplex>();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    const exchange = { req, res, finished: false };
    answering.set(socket, exchange);
    res.once('finish', () => (exchange.finished = true));
    res.once('close', () => {
      if (answering.get(socket) === exchange) answering.delete(socket);
    });
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === 'ECONNRESET' || error.code === 'EPIPE') return void socket.destroy();
    // Closing after an early answer, the parser no longer fed: node's request timeout (the request never
    // completes) or the client's end; the lingering close has its own bounds.
    if (isLingering(socket)) return;
    // Once per connection: a write that fails must not come back here.
    if (refused.has(socket) || !socket.writable) return void socket.destroy();
    refused.add(socket);
    const answer = refusalFor(error);
    const pending = answering.get(socket);
    // From here nothing more is parsed (after an error node's parser refuses every byte anyway).
    const linger = lingeringClose(socket as Socket, limits, signal);
    // No request in progress, or the bad bytes are in its own body: it will never be complete, refuse now.
    if (!pending || pending.finished || (!pending.req.complete && !pending.res.headersSent)) {
      write(socket, answer);
      return linger.answered();
    }
    // A request whose answer has begun: once it is written, the connection closes without a refusal, which
    // would read as a second answer to it. A request read in full: its answer, then the refusal, unless the
    // answer said `connection: close` (node has ended the connection: bytes after that are not a request,
    // as the bytes a client sends after its own `Connection: close`, llhttp's 'Data after Connection close').
    const refuseAfter = pending.req.complete;
    // Node ends such a connection at the answer's 'finish' with socket.destroySoon(): lingering, here too.
    (socket as Socket).destroySoon = () => linger.answered();
    pending.res.once('finish', () => {
      if (refuseAfter && !socket.writableEnded) write(socket, answer);
      linger.answered();
    });
    pending.res.once('close', () => {
      if (!pending.res.writableFinished) socket.destroy();
    });
  });
  // Expect: anything but 100-continue. Node would answer a bare 417. The body, never asked for, is not read.
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    if (isLingering(req.socket)) return void req.resume();
    const body = JSON.stringify({ error: { code: 'expectation_failed', message: "the Expect header is not supported; send 'Expect: 100-continue' or none" } });
    answerEarly(req, res, { status: 417, headers: { 'content-type': 'application/json' }, body }, { readUpTo: 0, close: true, limits, ...(signal ? { signal } : {}) });
  });
  // CONNECT (a proxy tunnel) is not served: node would drop the connection without a word.
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => socket.destroy());
    const linger = lingeringClose(socket as Socket, limits, signal);
    write(socket, refusal(405, 'method_not_allowed', 'CONNECT is not served; use GET or POST on the API routes'));
    linger.answered();
  });
}
