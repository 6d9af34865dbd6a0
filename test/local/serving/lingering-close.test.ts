// The lingering close on its own, on plain TCP connections to 127.0.0.1: after the answer the connection is
// half-closed and what the client still sends is dropped, until the client closes (then the connection
// closes without a reset), or until a bound: bytes dropped, idle time, total time, or the server stopping.
// The bounds are small here, and every wait is on an event (a bound that did not hold shows as the test's
// own timeout, never as a measured time).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { isLingering, lingeringClose, type LingerLimits } from '../../../local/serving/lingering-close';

const ANSWER = 'HTTP/1.1 413 Payload Too Large\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}';
const FOREVER = 600_000;

describe('lingeringClose', () => {
  let server: Server;
  let port: number;
  /** The limits and signal of the next connection's lingering close. */
  let nextLimits: LingerLimits;
  let nextSignal: AbortSignal | undefined;

  before(async () => {
    server = createServer((socket) => {
      socket.on('error', () => undefined);
      // The answer at the first byte, as an early answer goes before the body.
      socket.once('data', () => {
        const linger = lingeringClose(socket, nextLimits, nextSignal);
        assert.equal(isLingering(socket), true);
        socket.write(ANSWER, () => linger.answered());
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /**
   * A client that sends `first`, and its server side. `answer`: what the client read once the server's side
   * ended (it starts reading at `read()`); `closed`: the server side's bytes read, once it is closed.
   */
  async function client(first: string): Promise<{ socket: Socket; read(): Promise<string>; closed: Promise<number> }> {
    // Half-open, as any client of a plain socket (Python's): it may still send after the server's side ended.
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const [[serverSide]] = (await Promise.all([once(server, 'connection'), once(socket, 'connect')])) as [[Socket], unknown];
    const closed = once(serverSide, 'close').then(() => serverSide.bytesRead);
    socket.write(first);
    const read = () => {
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
      return once(socket, 'end').then(() => text);
    };
    return { socket, read, closed };
  }

  it('half-closes after the answer, drops what the client still sends, and closes without a reset when the client closes', async () => {
    nextLimits = { maxBytes: 64 * 1024 * 1024, maxMs: FOREVER, idleMs: FOREVER };
    nextSignal = undefined;
    const { socket, read, closed } = await client('POST / HTTP/1.1\r\ncontent-length: 8388608\r\n\r\n');
    const errors: Error[] = [];
    socket.on('error', (error) => errors.push(error));
    // The whole body, 8 MiB, before reading anything, as Python's http.client: no write fails.
    await new Promise<void>((resolve, reject) => socket.write(Buffer.alloc(8 * 1024 * 1024, 'x'), (error) => (error ? reject(error) : resolve())));
    assert.equal(await read(), ANSWER, 'the answer, then the end of the server side');
    // And more after the answer was read: still dropped.
    await new Promise<void>((resolve, reject) => socket.write(Buffer.alloc(1024 * 1024, 'x'), (error) => (error ? reject(error) : resolve())));
    socket.end();
    await once(socket, 'close');
    assert.ok((await closed) >= 9 * 1024 * 1024, 'the server read what was sent');
    assert.deepEqual(errors, []);
  });

  it('destroys the connection past maxBytes dropped: a client sending forever gets a reset, not a connection held', async () => {
    const maxBytes = 256 * 1024;
    nextLimits = { maxBytes, maxMs: FOREVER, idleMs: FOREVER };
    const { socket, read, closed } = await client('POST / HTTP/1.1\r\ncontent-length: 1000000000\r\n\r\n');
    const answer = read();
    const failed = once(socket, 'error').then(([error]) => error as NodeJS.ErrnoException);
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const pump = () => {
      while (!socket.destroyed && socket.write(chunk));
      if (!socket.destroyed) socket.once('drain', pump);
    };
    pump();
    assert.equal(await answer, ANSWER);
    const error = await failed;
    assert.match(String(error.code), /^(ECONNRESET|EPIPE)$/);
    const bytesRead = await closed;
    assert.ok(bytesRead > maxBytes && bytesRead < maxBytes + 1024 * 1024, `read past the cap, not much more: ${bytesRead}`);
  });

  it('closes the connection once idleMs passes without a byte after the answer', async () => {
    nextLimits = { maxBytes: 64 * 1024 * 1024, maxMs: FOREVER, idleMs: 50 };
    const { socket, read, closed } = await client('POST / HTTP/1.1\r\ncontent-length: 1000\r\n\r\n{"a');
    assert.equal(await read(), ANSWER);
    await closed;
    socket.destroy();
  });

  it('closes the connection after maxMs even while the client keeps sending', async () => {
    nextLimits = { maxBytes: 64 * 1024 * 1024, maxMs: 200, idleMs: FOREVER };
    const { socket, read, closed } = await client('POST / HTTP/1.1\r\ncontent-length: 1000000000\r\n\r\n');
    socket.on('error', () => undefined);
    const trickle = setInterval(() => socket.write('x'), 5);
    try {
      assert.equal(await read(), ANSWER);
      await closed;
    } finally {
      clearInterval(trickle);
      socket.destroy();
    }
  });

  it('closes a lingering connection once its answer is written when the signal is aborted (the server stopping)', async () => {
    nextLimits = { maxBytes: 64 * 1024 * 1024, maxMs: FOREVER, idleMs: FOREVER };
    const stopping = new AbortController();
    nextSignal = stopping.signal;
    const { socket, read, closed } = await client('POST / HTTP/1.1\r\ncontent-length: 1000\r\n\r\n');
    socket.on('error', () => undefined);
    assert.equal(await read(), ANSWER);
    stopping.abort();
    await closed;
    socket.destroy();
    nextSignal = undefined;
  });
});
