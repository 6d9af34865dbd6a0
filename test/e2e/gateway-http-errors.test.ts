// Requests node:http refuses before the gateway's handler sees them, as raw bytes on a real connection to a
// real gateway: each gets the API's JSON error body (node's own answer is a bare 400 without a body, or a
// closed connection), and a valid request before pipelined garbage keeps its answer. Found by the fuzzer.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Logger } from '@aws-lambda-powertools/logger';
import { loadManifest, resolveManifestPath } from '../../lambdas/core/manifest/load';
import { LocalGateway } from '../../local/serving/gateway';
import { exchange, type RawAnswer } from '../../scripts/fuzz/run';
import { tempDirMaker } from '../fixtures/temp-dirs';

const stateDir = tempDirMaker('mlship-http-errors-');

/** A logger that keeps what the gateway logs as errors. */
class RecordingLogger extends Logger {
  readonly errors: string[] = [];
  override error(input: Parameters<Logger['error']>[0]): void {
    this.errors.push(typeof input === 'string' ? input : JSON.stringify(input));
  }
}

describe('local gateway, HTTP the parser refuses', () => {
  let gateway: LocalGateway;
  let port: number;
  let predictBody: string;
  const logger = new RecordingLogger({ serviceName: 'test', logLevel: 'ERROR' });

  before(async () => {
    const manifest = loadManifest(resolveManifestPath(undefined));
    gateway = await LocalGateway.start({ manifest, port: 0, stateDir: stateDir(), alerts: { emit: () => undefined }, capture: false, logger });
    port = Number(new URL(gateway.url).port);
    predictBody = JSON.stringify({ instances: [manifest.models.find((m) => m.entry.name === 'breast-cancer')!.card.golden[0]!.input] });
  });
  after(() => gateway.close());

  async function send(bytes: string | Buffer[], method = 'POST'): Promise<RawAnswer> {
    const result = await exchange(port, { method, parts: typeof bytes === 'string' ? [Buffer.from(bytes, 'latin1')] : bytes }, 3000);
    assert.ok(result.answer, `an answer, not ${result.none}`);
    return result.answer;
  }

  function jsonError(answer: RawAnswer, status: number, code: string, message: RegExp): void {
    assert.equal(answer.status, status, answer.body.toString());
    assert.equal(answer.headers['content-type'], 'application/json');
    const body = JSON.parse(answer.body.toString()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, code);
    assert.match(body.error.message, message);
  }

  it('answers JSON for an unknown method, repeated or conflicting content-length, a bad chunk and a bad transfer-encoding', async () => {
    const body = predictBody;
    const head = (extra: string) => `POST /v1/models/breast-cancer:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${extra}\r\n`;
    jsonError(await send('G E T /v2 HTTP/1.1\r\nHost: x\r\n\r\n', 'GET'), 400, 'invalid_request', /not an HTTP method this API knows; use GET or POST/);
    jsonError(await send('get /v2 HTTP/1.1\r\nHost: x\r\n\r\n', 'GET'), 400, 'invalid_request', /not an HTTP method/);
    jsonError(await send(`${head(`Content-Length: ${body.length}\r\nContent-Length: ${body.length}\r\n`)}${body}`), 400, 'invalid_request', /content-length or transfer-encoding is invalid, repeated, or both are sent \(Duplicate Content-Length\)/);
    jsonError(await send(`${head(`Content-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n`)}${body}`), 400, 'invalid_request', /content-length or transfer-encoding .*Transfer-Encoding can't be present with Content-Length/);
    jsonError(await send(`${head('Content-Length: -1\r\n')}${body}`), 400, 'invalid_request', /content-length/);
    jsonError(await send(`${head('Transfer-Encoding: chunked\r\n')}zz\r\n${body}\r\n0\r\n\r\n`), 400, 'invalid_request', /chunked body is malformed/);
    // The bad chunk after good ones: the request is already being read when the parser gives up.
    jsonError(await send([Buffer.from(`${head('Transfer-Encoding: chunked\r\n')}4\r\n{"in\r\n`), Buffer.from(`zz\r\nstances":[]}\r\n0\r\n\r\n`)]), 400, 'invalid_request', /chunked body is malformed/);
    jsonError(await send(`${head('Transfer-Encoding: x\r\n')}4\r\n{"in\r\n0\r\n\r\n`), 400, 'invalid_request', /content-length or transfer-encoding is invalid/);
    jsonError(await send('GET /v2 HTTP/1.1x\r\nHost: x\r\n\r\n', 'GET'), 400, 'invalid_request', /not valid HTTP\/1\.1/);
  });

  it('answers 431 JSON for headers over 16 KB, 417 for an unknown Expect, 405 for CONNECT', async () => {
    jsonError(await send(`GET /${'x'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 'GET'), 431, 'headers_too_large', /larger than the limit of 16 KB/);
    jsonError(await send(`GET /v2 HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 'GET'), 431, 'headers_too_large', /16 KB/);
    jsonError(await send(`POST /v1/models/breast-cancer:predict HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Type: application/json\r\nContent-Length: ${predictBody.length}\r\n\r\n${predictBody}`), 417, 'expectation_failed', /Expect header is not supported/);
    jsonError(await send('CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n', 'CONNECT'), 405, 'method_not_allowed', /CONNECT is not served/);
  });

  it('logs no error when a caller goes away before its body is complete (found by the fuzzer: one "gateway failed to answer" each)', async () => {
    const before = logger.errors.length;
    for (const path of ['/v1/models/breast-cancer:predict', '/v2/models/digits/infer', '/endpoints/digits-v1/invocations']) {
      const result = await exchange(port, { method: 'POST', parts: [Buffer.from(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"instances": [`)] }, 200);
      assert.equal(result.none, 'timeout', 'the gateway waits for the rest of the body');
    }
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(logger.errors.slice(before), []);
    const answer = await send(`POST /v1/models/breast-cancer:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${predictBody.length}\r\n\r\n${predictBody}`);
    assert.equal(answer.status, 200);
  });

  it('routes a request without a Host header as any other, rather than a bare 400', async () => {
    const answer = await send(`POST /v1/models/breast-cancer:predict HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: ${predictBody.length}\r\n\r\n${predictBody}`);
    assert.equal(answer.status, 200, answer.body.toString());
    assert.match(answer.body.toString(), /^\{"predictions":\[\{"label":/);
  });

  it("answers a request sent with Connection: close and nothing after it, whatever the client sends next (no 'Data after Connection close' refusal, no reset)", async () => {
    // The client says its request is the last, then sends more anyway: a body it did not declare, 1 MiB of it.
    const extra = Buffer.alloc(1024 * 1024, 'x');
    for (const head of ['POST /v2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', `POST /v1/models/breast-cancer:predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${predictBody.length}\r\n\r\n${predictBody}`]) {
      const { connect } = await import('node:net');
      const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
      const errors: string[] = [];
      socket.on('error', (e: NodeJS.ErrnoException) => errors.push(e.code ?? e.message));
      await new Promise<void>((resolve) => socket.once('connect', resolve));
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString()));
      // All of it written before reading, as Python's http.client writes.
      await new Promise<void>((resolve) => socket.write(Buffer.concat([Buffer.from(head), extra]), () => resolve()));
      await new Promise<void>((resolve) => (socket.readableEnded ? resolve() : socket.once('end', resolve)));
      socket.end();
      const answers = text.split(/(?=HTTP\/1\.1 )/);
      assert.deepEqual(errors, [], text);
      assert.equal(answers.length, 1, text);
      assert.match(answers[0]!, head.startsWith('POST /v2 ') ? /^HTTP\/1\.1 405 / : /^HTTP\/1\.1 200 /);
      assert.match(answers[0]!, /\r\nConnection: close\r\n/i);
    }
  });

  it('answers a valid request before pipelined garbage, then refuses the garbage with JSON and closes', async () => {
    // After the body, bytes that are not a request: the answer to the request comes first (the model takes a while).
    const bytes = Buffer.from(`POST /v1/models/breast-cancer:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${predictBody.length}\r\n\r\n${predictBody}}]}\r\n\r\n`);
    const all = await new Promise<string>((resolve, reject) => {
      import('node:net')
        .then(({ connect }) => {
          const socket = connect({ host: '127.0.0.1', port }, () => socket.write(bytes));
          let text = '';
          socket.on('data', (c: Buffer) => (text += c.toString()));
          socket.on('close', () => resolve(text));
          socket.on('error', reject);
          setTimeout(() => socket.destroy(), 3000).unref();
        })
        .catch(reject);
    });
    const answers = all.split(/(?=HTTP\/1\.1 )/);
    assert.equal(answers.length, 2, all);
    assert.match(answers[0]!, /^HTTP\/1\.1 200 /);
    assert.match(answers[0]!, /\{"predictions":\[\{"label":/);
    assert.match(answers[1]!, /^HTTP\/1\.1 400 Bad Request\r\ncontent-type: application\/json\r\n/);
    assert.match(answers[1]!, /"code":"invalid_request"/);
  });
});

describe('local gateway, a client that sends its request too slowly', () => {
  it('answers 408 JSON once requestTimeoutMs has passed without the whole request, and keeps serving', async () => {
    const manifest = loadManifest(resolveManifestPath(undefined));
    const gateway = await LocalGateway.start({ manifest, port: 0, stateDir: stateDir(), alerts: { emit: () => undefined }, capture: false, logger: new Logger({ logLevel: 'ERROR' }), requestTimeoutMs: 300 });
    try {
      const port = Number(new URL(gateway.url).port);
      // Headers and a piece of the body, then nothing: a slow-loris client.
      const result = await exchange(port, { method: 'POST', parts: [Buffer.from('POST /v1/models/breast-cancer:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"instances": [')] }, 5000);
      assert.ok(result.answer, `an answer, not ${result.none}`);
      assert.equal(result.answer.status, 408, result.answer.body.toString());
      assert.equal((JSON.parse(result.answer.body.toString()) as { error: { code: string } }).error.code, 'request_timeout');
      const health = await fetch(`${gateway.url}/v2/health/ready`);
      assert.equal(health.status, 200);
    } finally {
      await gateway.close();
    }
  });
});
