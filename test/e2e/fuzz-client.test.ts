// The fuzzer's own client (scripts/fuzz/run.ts): a request sent in pieces must reach the server in order,
// however late node's event loop runs. It did not: the pieces' timers (0, 2, 4 ms...) were set at once, and
// a late loop runs another request's overdue 2 ms timer list whole, the second piece with it, before the
// 1 ms list. The gateway then read a request's middle first and answered 400 'not an HTTP method': the
// fuzz test's "pipelining race", tolerated by a rate until it was found to be the client's.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { exchange } from '../../scripts/fuzz/run';

/** Holds the thread for `ms`: the busy fuzzer (generating, parsing) that makes node's loop run late. */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

describe("the fuzzer's client", () => {
  it('writes a request\'s pieces in order while the event loop runs late', async () => {
    const received: string[] = [];
    const server = createServer((socket: Socket) => {
      let text = '';
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString('latin1');
        if (text.length < 10) return;
        received.push(text);
        socket.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      });
      socket.on('error', () => socket.destroy());
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    // Other work on 2 ms timers that each hold the loop for 3 ms, as the fuzzer's other connections do.
    let load = true;
    const spin = () => {
      busy(3);
      if (load) setTimeout(spin, 2);
    };
    setTimeout(spin, 2);
    try {
      const parts = [...'0123456789'].map((c) => Buffer.from(c));
      for (let i = 0; i < 10; i++) {
        const result = await exchange(port, { method: 'GET', parts }, 5000);
        assert.equal(result.answer?.status, 200, `an answer, not ${result.none}`);
      }
    } finally {
      load = false;
      server.close();
    }
    assert.deepEqual(received, Array.from({ length: 10 }, () => '0123456789'));
  });
});
