// The process fault policy on its own: what it logs, counts, and when it stops the process.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { ProcessFaultPolicy } from '../../../local/serving/process-faults';

function harness(shutdown: () => Promise<void> = async () => undefined) {
  const lines: string[] = [];
  const exits: number[] = [];
  let exited!: (code: number) => void;
  const exit = new Promise<number>((resolve) => (exited = resolve));
  const target = new EventEmitter() as unknown as NodeJS.Process;
  const policy = new ProcessFaultPolicy({
    write: (text) => void lines.push(text),
    exit: (code) => {
      exits.push(code);
      exited(code);
    },
    shutdown,
  }).install(target);
  return { policy, target: target as unknown as EventEmitter, lines, exits, exit };
}

describe('ProcessFaultPolicy', () => {
  it('logs an unhandled rejection with its stack, counts it, and keeps the process running', () => {
    const { policy, target, lines, exits } = harness();
    target.emit('unhandledRejection', new Error('lost promise'), Promise.resolve());
    target.emit('unhandledRejection', 'a plain string', Promise.resolve());
    assert.deepEqual(exits, []);
    assert.equal(policy.counts.unhandledRejections, 2);
    assert.equal(policy.counts.uncaughtExceptions, 0);
    assert.match(lines[0]!, /unhandled promise rejection #1 \(serving goes on/);
    assert.match(lines[0]!, /Error: lost promise\n\s+at /, 'the stack is logged');
    assert.match(lines[1]!, /#2[\s\S]*'a plain string'/);
    assert.equal(policy.counts.last?.kind, 'unhandledRejection');
    assert.equal(policy.counts.last?.message, "'a plain string'");
  });

  it('on an uncaught exception: logs it with its stack, drains, then exits 1', async () => {
    let drained = false;
    let finishDrain!: () => void;
    const draining = new Promise<void>((resolve) => (finishDrain = resolve));
    const { policy, target, lines, exits, exit } = harness(async () => {
      await draining;
      drained = true;
    });
    target.emit('uncaughtException', new TypeError('half-changed state'));
    assert.deepEqual(exits, [], 'no exit before the requests in flight finish');
    assert.match(lines[0]!, /uncaught exception #1: the process state may be inconsistent/);
    assert.match(lines[0]!, /TypeError: half-changed state\n\s+at /);
    finishDrain();
    assert.equal(await exit, 1);
    assert.ok(drained);
    assert.deepEqual(policy.counts.uncaughtExceptions, 1);
  });

  it('a second uncaught exception while stopping exits at once', () => {
    const { target, exits } = harness(() => new Promise<void>(() => undefined));
    target.emit('uncaughtException', new Error('first'));
    target.emit('uncaughtException', new Error('second'));
    assert.deepEqual(exits, [1]);
  });

  it('a shutdown that fails still exits 1, saying why', async () => {
    const { target, lines, exit } = harness(async () => {
      throw new Error('close failed');
    });
    target.emit('uncaughtException', new Error('boom'));
    assert.equal(await exit, 1);
    assert.match(lines.at(-1)!, /error while stopping: Error: close failed/);
  });
});
