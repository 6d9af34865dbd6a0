// Early answers (issue 15): requests the gateway answers before reading their body (413 too large, 403
// without the key, 404 unknown model or route, 405, 417, 429), sent by a client that writes its whole
// request before it reads anything, as Python's http.client, urllib and requests do. Each must read a
// complete JSON answer saying `connection: close`, then the end of the connection: never a write that fails
// (EPIPE, ECONNRESET). The gateway used to close such a connection on the bytes it had not read, so the
// kernel reset it under the client's upload: Python got BrokenPipeError for a 7 MB predict, three times out
// of three. Bodies from just over api.maxBodyBytes to 10 times it, with a content-length and chunked; then
// Python's http.client itself; then the bounds of the lingering close, with small ones.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Logger } from '@aws-lambda-powertools/logger';
import { loadManifest, resolveManifestPath, type LoadedManifest } from '../../lambdas/core/manifest/load';
import { LocalGateway, type LocalGatewayOptions } from '../../local/serving/gateway';
import { MAX_INVOCATION_BYTES, startLocalSageMakerEndpoint } from '../../local/sagemaker/endpoint';
import { tempDirMaker } from '../fixtures/temp-dirs';

const stateDir = tempDirMaker('mlship-early-');
const KEY = 'early-answers-key-0123456789abcdef';
const quiet = { alerts: { emit: () => undefined }, capture: false, logger: new Logger({ logLevel: 'ERROR' }) } as const;

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

interface Exchanged {
  /** Every answer read, in order. */
  readonly answers: Answer[];
  /** A socket error (EPIPE, ECONNRESET): the bug. */
  readonly error?: string;
  /** The gateway ended the connection (a FIN) after its answers. */
  readonly ended: boolean;
}

/** The answers in what was read: status line, headers, and a body of content-length bytes each. */
function parseAnswers(raw: Buffer): Answer[] {
  const answers: Answer[] = [];
  let rest = raw;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end === -1) return answers;
    const [statusLine, ...lines] = rest.subarray(0, end).toString('latin1').split('\r\n');
    const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    const length = Number(headers['content-length'] ?? 0);
    answers.push({ status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine!)?.[1]), headers, body: rest.subarray(end + 4, end + 4 + length).toString('utf8') });
    rest = rest.subarray(end + 4 + length);
  }
}

/**
 * Writes a whole request (the head, then the body with a content-length or chunked, or `raw` as it is, then
 * `after`) before reading anything, as Python's http.client does; then reads until the gateway ends the
 * connection.
 */
async function writeAllThenRead(port: number, head: string, body: Buffer, { chunked = false, raw = false, after = '' }: { chunked?: boolean; raw?: boolean; after?: string } = {}): Promise<Exchanged> {
  const socket = connect({ host: '127.0.0.1', port });
  let error: string | undefined;
  const failed = new Promise<void>((resolve) =>
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error ??= e.code ?? e.message;
      resolve();
    }),
  );
  await Promise.race([once(socket, 'connect'), failed]);
  const framed = chunked ? Buffer.concat([...chunks(body), Buffer.from('0\r\n\r\n')]) : body;
  const framing = raw ? '' : `${chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${body.length}`}\r\n\r\n`;
  const bytes = Buffer.concat([Buffer.from(`${head}${framing}`), framed, Buffer.from(after)]);
  // Every byte handed to the kernel first (a write the gateway resets fails here), then the answer.
  await Promise.race([new Promise<void>((resolve) => socket.write(bytes, () => resolve())), failed]);
  const read: Buffer[] = [];
  let ended = false;
  socket.on('data', (chunk: Buffer) => read.push(chunk));
  socket.on('end', () => (ended = true));
  await Promise.race([once(socket, 'end'), failed]);
  socket.end();
  await once(socket, 'close');
  return { answers: parseAnswers(Buffer.concat(read)), ended, ...(error !== undefined ? { error } : {}) };
}

/** A body in chunks of 64 KiB, as chunked encoding frames them. */
function* chunks(body: Buffer): Generator<Buffer> {
  for (let at = 0; at < body.length; at += 65_536) {
    const piece = body.subarray(at, at + 65_536);
    yield Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]);
  }
}

/** A JSON-looking body of exactly `size` bytes. */
function bodyOf(size: number): Buffer {
  const body = Buffer.alloc(size, '1,');
  body.write('{"instances": [[');
  return body;
}

/** One complete JSON error with `connection: close`, then the end of the connection, and no socket error. */
function closedWith(result: Exchanged, status: number, code: string, what: string): void {
  assert.equal(result.error, undefined, `${what}: the client's upload failed (${result.error}) after ${result.answers.length} answers`);
  assert.equal(result.answers.length, 1, `${what}: one answer, then nothing (${result.answers.map((a) => a.status).join(', ')})`);
  const [answer] = result.answers as [Answer];
  assert.equal(answer.status, status, `${what}: ${answer.body}`);
  assert.equal(answer.headers['content-type'], 'application/json', what);
  assert.equal(answer.headers.connection, 'close', what);
  assert.equal((JSON.parse(answer.body) as { error: { code: string } }).error.code, code, what);
  assert.ok(result.ended, `${what}: the gateway ended the connection`);
}

function start(manifest: LoadedManifest, options: Partial<LocalGatewayOptions> = {}): Promise<LocalGateway> {
  return LocalGateway.start({ manifest, port: 0, stateDir: stateDir(), ...quiet, ...options });
}

const portOf = (gateway: LocalGateway) => Number(new URL(gateway.url).port);
const HOST = 'Host: 127.0.0.1\r\n';
const JSON_TYPE = 'Content-Type: application/json\r\n';

describe('early answers to a client that writes its whole request before reading', () => {
  let manifest: LoadedManifest;
  let limit: number;
  let open: LocalGateway;
  let keyed: LocalGateway;
  let throttled: LocalGateway;

  before(async () => {
    manifest = loadManifest(resolveManifestPath(undefined));
    limit = manifest.manifest.api.maxBodyBytes;
    // One token per route and none ever again: the second request on a route is throttled.
    const never = { rateLimit: 0, burstLimit: 1 };
    const throttledManifest: LoadedManifest = { ...manifest, manifest: { ...manifest.manifest, api: { ...manifest.manifest.api, throttle: never }, models: manifest.manifest.models.map((m) => ({ ...m, throttle: never })) } };
    [open, keyed, throttled] = await Promise.all([start(manifest), start(manifest, { apiKey: KEY }), start(throttledManifest, { throttle: true })]);
  });
  after(() => Promise.all([open?.close(), keyed?.close(), throttled?.close()]));

  it('answers 413 JSON and closes, for bodies from just over api.maxBodyBytes to 10 times it, with a content-length or chunked', async () => {
    for (const size of [limit + 1, 2 * limit, 10 * limit]) {
      for (const chunked of [false, true]) {
        for (const path of ['/v1/models/breast-cancer:predict', '/v2/models/digits/infer']) {
          const result = await writeAllThenRead(portOf(open), `POST ${path} HTTP/1.1\r\n${HOST}${JSON_TYPE}`, bodyOf(size), { chunked });
          closedWith(result, 413, 'payload_too_large', `${size} bytes to ${path}${chunked ? ', chunked' : ''}`);
        }
      }
    }
  });

  it('answers 403 JSON without the key and closes, whatever the body\'s size', async () => {
    for (const size of [0, 1000, limit + 1, 2 * limit, 10 * limit]) {
      for (const chunked of [false, true]) {
        const result = await writeAllThenRead(portOf(keyed), `POST /v1/models/breast-cancer:predict HTTP/1.1\r\n${HOST}${JSON_TYPE}`, bodyOf(size), { chunked });
        closedWith(result, 403, 'forbidden', `${size} bytes${chunked ? ', chunked' : ''} without the key`);
      }
    }
    const wrongKey = await writeAllThenRead(portOf(keyed), `POST /v1/models/breast-cancer:predict HTTP/1.1\r\n${HOST}${JSON_TYPE}x-api-key: ${KEY}x\r\n`, bodyOf(10 * limit));
    closedWith(wrongKey, 403, 'forbidden', 'a wrong key');
    // With the key, the same body is too large.
    const withKey = await writeAllThenRead(portOf(keyed), `POST /v1/models/breast-cancer:predict HTTP/1.1\r\n${HOST}${JSON_TYPE}x-api-key: ${KEY}\r\n`, bodyOf(10 * limit));
    closedWith(withKey, 413, 'payload_too_large', 'with the key');
  });

  it('answers 404 (unknown model, unknown route), 405 and 417 JSON to a body over the limit, and closes', async () => {
    const cases: [string, string, number, string][] = [
      ['an unknown model', `POST /v1/models/nosuch:predict HTTP/1.1\r\n${HOST}${JSON_TYPE}`, 404, 'model_not_found'],
      ['an unknown route', `POST /v3/nothing HTTP/1.1\r\n${HOST}${JSON_TYPE}`, 404, 'route_not_found'],
      ['a wrong method', `PUT /v1/models/breast-cancer:predict HTTP/1.1\r\n${HOST}${JSON_TYPE}`, 405, 'method_not_allowed'],
      ['an unknown Expect', `POST /v1/models/breast-cancer:predict HTTP/1.1\r\n${HOST}${JSON_TYPE}Expect: teapot\r\n`, 417, 'expectation_failed'],
    ];
    for (const [what, head, status, code] of cases) {
      for (const size of [limit + 1, 10 * limit]) {
        for (const chunked of [false, true]) closedWith(await writeAllThenRead(portOf(open), head, bodyOf(size), { chunked }), status, code, `${what}, ${size} bytes${chunked ? ', chunked' : ''}`);
      }
    }
  });

  it("answers node's parse errors JSON (a malformed chunk, headers over 16 KB) before a large body, and closes", async () => {
    const head = `POST /v1/models/breast-cancer:predict HTTP/1.1\r\n${HOST}${JSON_TYPE}`;
    const badChunk = await writeAllThenRead(portOf(open), `${head}Transfer-Encoding: chunked\r\n\r\nzz\r\n`, bodyOf(10 * limit), { raw: true });
    closedWith(badChunk, 400, 'invalid_request', 'a malformed chunk');
    const hugeHeader = await writeAllThenRead(portOf(open), `${head}X-Big: ${'a'.repeat(20_000)}\r\n`, bodyOf(10 * limit));
    closedWith(hugeHeader, 431, 'headers_too_large', 'headers over 16 KB');
  });

  it('answers 429 JSON to a throttled request with a body over the limit, and closes', async () => {
    const path = '/v1/models/breast-cancer:predict';
    const first = await writeAllThenRead(portOf(throttled), `POST ${path} HTTP/1.1\r\n${HOST}${JSON_TYPE}Connection: close\r\n`, Buffer.from(JSON.stringify({ instances: [manifest.models[0]!.card.golden[0]!.input] })));
    assert.equal(first.answers[0]?.status, 200, 'the one token');
    for (const chunked of [false, true]) closedWith(await writeAllThenRead(portOf(throttled), `POST ${path} HTTP/1.1\r\n${HOST}${JSON_TYPE}`, bodyOf(10 * limit), { chunked }), 429, 'throttled', `throttled${chunked ? ', chunked' : ''}`);
  });

  it('answers 413 on /endpoints/ past its own limit (InvokeEndpoint\'s 25 MiB), and closes', async () => {
    const result = await writeAllThenRead(portOf(open), `POST /endpoints/digits-v1/invocations HTTP/1.1\r\n${HOST}${JSON_TYPE}`, bodyOf(MAX_INVOCATION_BYTES + 1));
    closedWith(result, 413, 'payload_too_large', '/endpoints/');
  });

  it("answers 413 on the standalone SageMaker endpoint server past 25 MiB, in SageMaker's shape, and closes", async () => {
    const endpoint = await startLocalSageMakerEndpoint(new Map());
    try {
      const result = await writeAllThenRead(endpoint.port, `POST /endpoints/digits-v1/invocations HTTP/1.1\r\n${HOST}${JSON_TYPE}`, bodyOf(MAX_INVOCATION_BYTES + 1));
      assert.equal(result.error, undefined, `the upload failed: ${result.error}`);
      assert.deepEqual(
        result.answers.map((a) => [a.status, a.headers.connection, a.headers['x-amzn-errortype'], a.body]),
        [[413, 'close', 'ValidationError', JSON.stringify({ message: `Request payload is larger than ${MAX_INVOCATION_BYTES} bytes.` })]],
      );
      assert.ok(result.ended);
      assert.deepEqual(endpoint.invocations, [{ endpointName: 'digits-v1', statusCode: 413 }]);
    } finally {
      await endpoint.close();
    }
  });

  it('checks the size before the content type, as API Gateway does: 413 over the limit, 415 within it', async () => {
    const head = `POST /v1/models/breast-cancer:predict HTTP/1.1\r\n${HOST}Content-Type: text/plain\r\n`;
    closedWith(await writeAllThenRead(portOf(open), head, bodyOf(10 * limit)), 413, 'payload_too_large', 'text/plain over the limit');
    const within = await writeAllThenRead(portOf(open), `${head}Connection: close\r\n`, bodyOf(limit));
    assert.equal(within.error, undefined);
    assert.equal(within.answers[0]?.status, 415, within.answers[0]?.body);
    assert.equal((JSON.parse(within.answers[0]!.body) as { error: { code: string } }).error.code, 'unsupported_media_type');
  });

  it('parses nothing after an early answer that closes: a request pipelined behind the body is not answered', async () => {
    const next = `GET /v2/health/live HTTP/1.1\r\n${HOST}\r\n`;
    for (const chunked of [false, true]) {
      const result = await writeAllThenRead(portOf(open), `POST /v1/models/breast-cancer:predict HTTP/1.1\r\n${HOST}${JSON_TYPE}`, bodyOf(2 * limit), { chunked, after: next });
      closedWith(result, 413, 'payload_too_large', `413 then a pipelined request${chunked ? ', chunked' : ''}`);
    }
    const forbidden = await writeAllThenRead(portOf(keyed), `POST /v1/models/breast-cancer:predict HTTP/1.1\r\n${HOST}${JSON_TYPE}`, bodyOf(100), { after: next });
    closedWith(forbidden, 403, 'forbidden', '403 then a pipelined request');
  });

  it('keeps the connection after a 404 or 405 to a body within the limit: the body is read, and a pipelined request is answered', async () => {
    const valid = JSON.stringify({ instances: [manifest.models.find((m) => m.entry.name === 'breast-cancer')!.card.golden[0]!.input] });
    const next = `POST /v1/models/breast-cancer:predict HTTP/1.1\r\n${HOST}${JSON_TYPE}Content-Length: ${valid.length}\r\nConnection: close\r\n\r\n${valid}`;
    for (const head of [`POST /v1/models/nosuch:predict HTTP/1.1\r\n${HOST}${JSON_TYPE}`, `PUT /v1/models/breast-cancer:predict HTTP/1.1\r\n${HOST}${JSON_TYPE}`]) {
      for (const chunked of [false, true]) {
        const result = await writeAllThenRead(portOf(open), head, bodyOf(limit), { chunked, after: next });
        assert.equal(result.error, undefined);
        assert.deepEqual(
          result.answers.map((a) => [a.status, a.headers.connection]),
          [
            [head.startsWith('PUT') ? 405 : 404, 'keep-alive'],
            [200, 'close'],
          ],
        );
      }
    }
  });
});

describe('early answers to Python', () => {
  let gateway: LocalGateway;

  before(async () => {
    gateway = await start(loadManifest(resolveManifestPath(undefined)));
  });
  after(() => gateway.close());

  it("answers Python's http.client 413 JSON for a 2 MB and a 10 MB body, with a content-length and chunked", async () => {
    // http.client sends the whole body before it reads the answer: it got BrokenPipeError for 7 MB and more.
    const script = `
import http.client, json, sys
port = int(sys.argv[1])
for size in (2_000_000, 10_000_000):
    body = b'{"instances": [[' + b'1,' * (size // 2) + b'1]]}'
    for chunked in (False, True):
        connection = http.client.HTTPConnection('127.0.0.1', port, timeout=120)
        try:
            if chunked:
                connection.request('POST', '/v1/models/breast-cancer:predict', body=(body[i:i + 65536] for i in range(0, len(body), 65536)), headers={'content-type': 'application/json'}, encode_chunked=True)
            else:
                connection.request('POST', '/v1/models/breast-cancer:predict', body=body, headers={'content-type': 'application/json'})
            response = connection.getresponse()
            print(json.dumps({'size': len(body), 'chunked': chunked, 'status': response.status, 'connection': response.getheader('connection'), 'body': response.read().decode()}))
        except Exception as error:
            print(json.dumps({'size': len(body), 'chunked': chunked, 'error': type(error).__name__ + ': ' + str(error)}))
        finally:
            connection.close()
`;
    const output = await new Promise<string>((resolve, reject) =>
      execFile('python3', ['-c', script, String(portOf(gateway))], { timeout: 300_000 }, (error, stdout, stderr) => (error ? reject(new Error(`python3 failed: ${error.message}\n${stderr}`)) : resolve(stdout))),
    );
    const results = output
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { size: number; chunked: boolean; status?: number; connection?: string; body?: string; error?: string });
    assert.equal(results.length, 4, output);
    for (const r of results) {
      const what = `${r.size} bytes${r.chunked ? ', chunked' : ''}`;
      assert.equal(r.error, undefined, `${what}: ${r.error}`);
      assert.equal(r.status, 413, what);
      assert.equal(r.connection, 'close', what);
      assert.equal((JSON.parse(r.body!) as { error: { code: string } }).error.code, 'payload_too_large', what);
    }
  });
});

describe('the bounds of the lingering close, on the gateway', () => {
  let gateway: LocalGateway;
  const maxBytes = 256 * 1024;

  before(async () => {
    // Only the byte bound can close a connection within the test's time; the others are out of reach.
    gateway = await start(loadManifest(resolveManifestPath(undefined)), { lingerLimits: { maxBytes, maxMs: 600_000, idleMs: 600_000 }, drainTimeoutMs: 600_000 });
  });
  after(() => gateway.close());

  it('destroys the connection of a client that keeps sending after its 413, past lingerLimits.maxBytes', async () => {
    const socket = connect({ host: '127.0.0.1', port: portOf(gateway) });
    await once(socket, 'connect');
    socket.write(`POST /v1/models/breast-cancer:predict HTTP/1.1\r\n${HOST}${JSON_TYPE}Content-Length: 1000000000\r\n\r\n`);
    const read: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => read.push(chunk));
    const failed = once(socket, 'error').then(([error]) => (error as NodeJS.ErrnoException).code);
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const pump = () => {
      while (!socket.destroyed && socket.write(chunk));
      if (!socket.destroyed) socket.once('drain', pump);
    };
    pump();
    // The gateway's reset (test/local/serving/lingering-close.test.ts checks where it falls: just past maxBytes).
    assert.match(String(await failed), /^(ECONNRESET|EPIPE)$/);
    const [answer] = parseAnswers(Buffer.concat(read));
    assert.equal(answer?.status, 413, 'the answer came first');
  });

  it('closes a lingering connection at once when the gateway stops, rather than after its bounds', async () => {
    const stopping = await start(loadManifest(resolveManifestPath(undefined)), { lingerLimits: { maxMs: 600_000, idleMs: 600_000 }, drainTimeoutMs: 600_000 });
    const socket = connect({ host: '127.0.0.1', port: portOf(stopping) });
    socket.on('error', () => undefined);
    await once(socket, 'connect');
    socket.write(`POST /v1/models/nosuch:predict HTTP/1.1\r\n${HOST}${JSON_TYPE}Content-Length: 100000000\r\n\r\n{`);
    const read: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => read.push(chunk));
    await once(socket, 'end');
    assert.equal(parseAnswers(Buffer.concat(read))[0]?.status, 404);
    // The client neither sends nor closes: only the gateway's stop ends the connection (and close() resolves).
    await stopping.close();
    await once(socket, 'close');
  });
});
