// The local state-machine runner on the definition taken from a synthesized CDK stack (test/fixtures/
// sfn-stack.ts): real functions as the Task handlers, rows from a local reader, results through a local
// writer. It checks what a person would: the batches the scorer saw, the results written, the final
// output, the tolerated-failure threshold, retries then the catch; and that every construct the runner
// cannot emulate is refused with its state and field before anything runs.
// Over 400 lines: one case per States Language construct the runner emulates or refuses.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { runStateMachine, UnsupportedDefinitionError, type Json, type JsonObject, type MapProgress, type ResultWriterRequest, type RunOptions, type TaskHandler } from '../../../local/pipelines/runner';
import { definitionFromTemplate, localReferences } from '../../../local/pipelines/template-definition';
import { buildSfnFixture, type SfnFixture } from '../../fixtures/sfn-stack';

const fixtures: SfnFixture[] = [];
after(() => fixtures.forEach((fixture) => fixture.cleanup()));

function pipeline(options: Parameters<typeof buildSfnFixture>[0] = {}): JsonObject {
  const fixture = buildSfnFixture(options);
  fixtures.push(fixture);
  return definitionFromTemplate(fixture.template, undefined, { references: localReferences(fixture.template) });
}

type Row = { id: string; x: string };
type Batch = { Items: Row[]; BatchInput: { model: string } };

function rows(count: number): Row[] {
  return Array.from({ length: count }, (_, i) => ({ id: String(i), x: String(i * 2) }));
}

/** The scorer: doubles x plus one; a row whose x is not a number fails its whole batch with BadRow. */
function scorer(batches: Batch[]): TaskHandler {
  return (input) => {
    const batch = input as unknown as Batch;
    batches.push(batch);
    return batch.Items.map((row) => {
      const x = Number(row.x);
      if (Number.isNaN(x)) {
        const error = new Error(`row ${row.id}: x is not a number`);
        error.name = 'BadRow';
        throw error;
      }
      return { id: row.id, y: x * 2 + 1, model: batch.BatchInput.model };
    });
  };
}

interface Harness {
  readonly batches: Batch[];
  readonly writes: ResultWriterRequest[];
  readonly summaries: Json[];
  readonly options: RunOptions;
}

function harness(items: Row[], summarise: TaskHandler = (input) => ({ rows: 'counted', input })): Harness {
  const batches: Batch[] = [];
  const writes: ResultWriterRequest[] = [];
  const summaries: Json[] = [];
  return {
    batches,
    writes,
    summaries,
    options: {
      taskHandlers: {
        ScoreBatch: scorer(batches),
        Summarise: async (input, context) => {
          summaries.push(input);
          return summarise(input, context);
        },
      },
      distributedMap: {
        itemReader: (request) => {
          assert.deepEqual(request.parameters, { Bucket: 'data666c94c7', Key: 'input/rows.csv' });
          assert.equal(request.readerConfig.InputType, 'CSV');
          return items;
        },
        resultWriter: (request) => {
          writes.push(request);
        },
      },
    },
  };
}

describe('runStateMachine on the synthesized pipeline', () => {
  it('batches the rows, scores every batch, writes the results and hands the manifest to the summary', async () => {
    const h = harness(rows(25));
    const result = await runStateMachine(pipeline(), { model: 'breast-cancer' }, h.options);

    assert.deepEqual(h.batches.map((b) => b.Items.length).sort(), [10, 10, 5]);
    assert.ok(h.batches.every((b) => b.BatchInput.model === 'breast-cancer'));
    assert.equal(h.writes.length, 1);
    const write = h.writes[0]!;
    assert.deepEqual(write.parameters, { Bucket: 'data666c94c7', Prefix: 'output' });
    assert.deepEqual(write.writerConfig, { OutputType: 'JSONL', Transformation: 'COMPACT' });
    assert.match(write.manifestKey, /^output\/[0-9a-f-]{36}\/manifest\.json$/);
    assert.deepEqual(write.failed, []);
    // COMPACT: each batch's output, in order; every row scored once.
    const scored = (write.succeeded as { id: string; y: number }[][]).flat();
    assert.deepEqual(scored.map((r) => r.id), rows(25).map((r) => r.id));
    assert.deepEqual(scored[7], { id: '7', y: 29, model: 'breast-cancer' });

    // Summarise is a LambdaInvoke: its function got the Payload, the state kept `$.Payload` (ResultSelector).
    assert.deepEqual(h.summaries, [{ model: 'breast-cancer', results: { Bucket: 'data666c94c7', Key: write.manifestKey } }]);
    assert.deepEqual(result, { status: 'SUCCEEDED', output: { summary: { rows: 'counted', input: h.summaries[0]! } } });
  });

  it('goes to the Choice default when the input names no model', async () => {
    const h = harness(rows(3));
    assert.deepEqual(await runStateMachine(pipeline(), { file: 'x.csv' }, h.options), { status: 'FAILED', error: 'NoModel', cause: 'the input names no model' });
    assert.equal(h.batches.length, 0);
  });

  it('tolerates failed batches up to ToleratedFailurePercentage, counting every item of a failed batch', async () => {
    const items = rows(25);
    items[12]!.x = 'n/a'; // batch 3 of 5 fails: 5 of 25 items = 20%, not more than the 20% tolerated
    const h = harness(items);
    const result = await runStateMachine(pipeline({ toleratedFailurePercentage: 20, maxItemsPerBatch: 5 }), { model: 'm' }, h.options);
    assert.equal(result.status, 'SUCCEEDED');
    const write = h.writes[0]!;
    assert.equal(write.succeeded.length, 4);
    assert.equal(write.failed.length, 1);
    const failed = write.failed[0]!;
    assert.equal(failed.Status, 'FAILED');
    assert.equal(failed.Error, 'BadRow');
    assert.equal((JSON.parse(failed.Cause!) as { errorMessage: string }).errorMessage, 'row 12: x is not a number');
    assert.deepEqual((JSON.parse(failed.Input) as Batch).Items.map((r) => r.id), ['10', '11', '12', '13', '14']);
  });

  it('fails the map with States.ExceedToleratedFailureThreshold beyond the tolerance, and never reaches the summary', async () => {
    const items = rows(25);
    items[3]!.x = 'bad';
    items[12]!.x = 'bad'; // 10 of 25 items = 40% > 20%
    const h = harness(items);
    const result = await runStateMachine(pipeline({ toleratedFailurePercentage: 20, maxItemsPerBatch: 5 }), { model: 'm' }, h.options);
    assert.equal(result.status, 'FAILED');
    assert.equal(result.status === 'FAILED' && result.error, 'States.ExceedToleratedFailureThreshold');
    assert.match(result.status === 'FAILED' ? result.cause : '', /10 of 25 items failed, tolerated 20%/);
    assert.equal(h.summaries.length, 0);
    assert.equal(h.writes[0]!.failed.length, 2, 'the results are written on failure too');
  });

  it('with no tolerance (the default), one failed batch fails the map', async () => {
    const items = rows(25);
    items[24]!.x = '?';
    const result = await runStateMachine(pipeline(), { model: 'm' }, harness(items).options);
    assert.equal(result.status === 'FAILED' && result.error, 'States.ExceedToleratedFailureThreshold');
  });

  it('retries Throttled as the Retry says, then succeeds', async () => {
    let calls = 0;
    const h = harness(rows(2), () => {
      calls += 1;
      if (calls < 3) throw Object.assign(new Error('slow down'), { name: 'Throttled' });
      return { ok: calls };
    });
    const result = await runStateMachine(pipeline(), { model: 'm' }, h.options);
    assert.deepEqual(result, { status: 'SUCCEEDED', output: { summary: { ok: 3 } } });
  });

  it('after MaxAttempts retries, the Catch sends the error to the Fail state (Error and the Lambda-shaped Cause)', async () => {
    let calls = 0;
    const h = harness(rows(2), () => {
      calls += 1;
      throw Object.assign(new Error('still throttled'), { name: 'Throttled' });
    });
    const result = await runStateMachine(pipeline(), { model: 'm' }, h.options);
    assert.equal(calls, 3, 'one attempt and MaxAttempts (2) retries');
    assert.equal(result.status, 'FAILED');
    if (result.status !== 'FAILED') return;
    assert.equal(result.error, 'Throttled');
    assert.deepEqual(JSON.parse(result.cause) as unknown, { errorType: 'Throttled', errorMessage: 'still throttled', trace: (JSON.parse(result.cause) as { trace: string[] }).trace });
  });

  it('does not retry an error the Retry does not name; the catch-all takes it at once', async () => {
    let calls = 0;
    const h = harness(rows(2), () => {
      calls += 1;
      throw new TypeError('bad summary');
    });
    const result = await runStateMachine(pipeline(), { model: 'm' }, h.options);
    assert.equal(calls, 1);
    assert.equal(result.status === 'FAILED' && result.error, 'TypeError');
  });

  it('waits the retry intervals scaled by timeScale (2 s and 4 s at 0.01: about 60 ms)', async () => {
    let calls = 0;
    const h = harness(rows(2), () => {
      calls += 1;
      if (calls < 3) throw Object.assign(new Error('slow down'), { name: 'Throttled' });
      return {};
    });
    const started = performance.now();
    await runStateMachine(pipeline(), { model: 'm' }, { ...h.options, timeScale: 0.01 });
    assert.ok(performance.now() - started >= 40, `retries waited ${performance.now() - started} ms`);
  });

  it('keeps at most `concurrency` child executions in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const h = harness(rows(40));
    const options: RunOptions = {
      ...h.options,
      taskHandlers: {
        ...h.options.taskHandlers,
        ScoreBatch: async (input) => {
          inFlight += 1;
          most = Math.max(most, inFlight);
          await new Promise((resolve) => setTimeout(resolve, 5));
          inFlight -= 1;
          return (input as unknown as Batch).Items.length;
        },
      },
      distributedMap: { ...h.options.distributedMap, concurrency: 2 },
    };
    const result = await runStateMachine(pipeline({ maxItemsPerBatch: 2 }), { model: 'm' }, options);
    assert.equal(result.status, 'SUCCEEDED');
    assert.equal(most, 2);
  });

  it('reports progress after each child execution, ending with every item done', async () => {
    const items = rows(23);
    items[0]!.x = 'bad';
    const progress: MapProgress[] = [];
    const h = harness(items);
    const result = await runStateMachine(pipeline({ toleratedFailurePercentage: 50 }), { model: 'm' }, {
      ...h.options,
      distributedMap: { ...h.options.distributedMap, onProgress: (p) => progress.push(p) },
    });
    assert.equal(result.status, 'SUCCEEDED');
    assert.equal(progress.length, 3);
    assert.deepEqual(progress.at(-1), { stateName: 'ScoreRows', itemsRead: 23, readingDone: true, itemsDone: 23, itemsFailed: 10 });
  });
});

/** A Distributed Map over `$.items` with an ItemSelector and no writer. */
function itemsMap(extra: JsonObject = {}): JsonObject {
  return {
    StartAt: 'Each',
    States: {
      Each: {
        Type: 'Map',
        ItemsPath: '$.items',
        ItemSelector: { 'value.$': '$$.Map.Item.Value', 'index.$': '$$.Map.Item.Index', 'factor.$': '$.factor' },
        ItemProcessor: {
          ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'EXPRESS' },
          StartAt: 'Times',
          States: { Times: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Parameters: { FunctionName: 'times', 'Payload.$': '$' }, OutputPath: '$.Payload', End: true } },
        },
        End: true,
        ...extra,
      },
    },
  };
}

const times: TaskHandler = (input) => {
  const { value, index, factor } = input as { value: number; index: number; factor: number };
  return [value * factor, index];
};

describe('a Distributed Map whose reader or writer fails', () => {
  it('fails with States.ItemReaderFailed when the items cannot be read, mid-way too', async () => {
    const h = harness([]);
    const missing = await runStateMachine(pipeline(), { model: 'm' }, {
      ...h.options,
      distributedMap: { ...h.options.distributedMap, itemReader: () => { throw new Error('NoSuchKey: input/rows.csv'); } },
    });
    assert.deepEqual(missing, { status: 'FAILED', error: 'States.ItemReaderFailed', cause: 'NoSuchKey: input/rows.csv' });
    async function* broken() {
      yield { id: '0', x: '1' };
      throw new Error('row 2: unterminated quote');
    }
    const midway = await runStateMachine(pipeline(), { model: 'm' }, { ...h.options, distributedMap: { ...h.options.distributedMap, itemReader: () => broken() } });
    assert.deepEqual(midway, { status: 'FAILED', error: 'States.ItemReaderFailed', cause: 'row 2: unterminated quote' });
  });

  it('fails with States.ResultWriterFailed when the results cannot be written', async () => {
    const h = harness(rows(3));
    const result = await runStateMachine(pipeline(), { model: 'm' }, {
      ...h.options,
      distributedMap: { ...h.options.distributedMap, resultWriter: () => { throw new Error('AccessDenied'); } },
    });
    assert.deepEqual(result, { status: 'FAILED', error: 'States.ResultWriterFailed', cause: 'AccessDenied' });
  });
});

describe('a Distributed Map without a reader or writer', () => {
  it('runs one child per item (ItemSelector with $$.Map.Item) and outputs their results in order', async () => {
    const result = await runStateMachine(itemsMap(), { items: [5, 6, 7], factor: 10 }, { taskHandlers: { Times: times } });
    assert.deepEqual(result, { status: 'SUCCEEDED', output: [[50, 0], [60, 1], [70, 2]] });
  });

  it('applies an ItemSelector of paths, literals and intrinsics alike; a path that matches nothing fails with States.Runtime', async () => {
    const echo: TaskHandler = (input) => input;
    const run = (selector: JsonObject, input: Json) => runStateMachine(itemsMap({ ItemSelector: selector }), input, { taskHandlers: { Times: echo } });
    const input = { items: [{ a: { b: 1 } }, { a: { b: 2 } }], meta: { run: 'r1' } };
    const simple = await run({ 'b.$': '$$.Map.Item.Value.a.b', 'i.$': '$$.Map.Item.Index', 'run.$': '$.meta.run', kind: 'row' }, input);
    assert.deepEqual(simple, { status: 'SUCCEEDED', output: [{ b: 1, i: 0, run: 'r1', kind: 'row' }, { b: 2, i: 1, run: 'r1', kind: 'row' }] });
    const viaEngine = await run({ 'b.$': '$$.Map.Item.Value.a.b', 'i.$': '$$.Map.Item.Index', 'run.$': '$.meta.run', kind: 'row', 'id.$': "States.Format('{}-{}', $.meta.run, $$.Map.Item.Index)" }, input);
    assert.deepEqual(viaEngine, { status: 'SUCCEEDED', output: [{ b: 1, i: 0, run: 'r1', kind: 'row', id: 'r1-0' }, { b: 2, i: 1, run: 'r1', kind: 'row', id: 'r1-1' }] });
    const missing = await run({ 'c.$': '$$.Map.Item.Value.a.c' }, input);
    assert.equal(missing.status === 'FAILED' && missing.error, 'States.Runtime');
  });

  it('flattens the outputs with WriterConfig FLATTEN and no Resource', async () => {
    const definition = itemsMap({ ResultWriter: { WriterConfig: { Transformation: 'FLATTEN', OutputType: 'JSON' } } });
    const result = await runStateMachine(definition, { items: [1, 2], factor: 3 }, { taskHandlers: { Times: times } });
    assert.deepEqual(result, { status: 'SUCCEEDED', output: [3, 0, 6, 1] });
  });

  it('reads at most ReaderConfig.MaxItems items', async () => {
    const definition = itemsMap({ ItemReader: { Resource: 'arn:aws:states:::s3:getObject', ReaderConfig: { InputType: 'JSONL', MaxItems: 2 }, Parameters: { Bucket: 'b', 'Key.$': '$.key' } } });
    delete (definition.States as Record<string, JsonObject>).Each!.ItemsPath;
    const seen: JsonObject[] = [];
    async function* lines() {
      for (const value of [4, 5, 6, 7]) yield value;
    }
    const result = await runStateMachine(definition, { key: 'in.jsonl', factor: 1 }, {
      taskHandlers: { Times: times },
      distributedMap: { itemReader: (request) => (seen.push(request.parameters), lines()) },
    });
    assert.deepEqual(seen, [{ Bucket: 'b', Key: 'in.jsonl' }]);
    assert.deepEqual(result, { status: 'SUCCEEDED', output: [[4, 0], [5, 1]] });
  });
});

describe('what the engine itself emulates', () => {
  it('Parallel branches and an inline Map, with Wait states skipped at timeScale 0', async () => {
    const definition: JsonObject = {
      StartAt: 'Both',
      States: {
        Both: {
          Type: 'Parallel',
          Branches: [
            { StartAt: 'Pause', States: { Pause: { Type: 'Wait', Seconds: 3600, Next: 'Count' }, Count: { Type: 'Pass', Parameters: { 'n.$': 'States.ArrayLength($.items)' }, End: true } } },
            {
              StartAt: 'Each',
              States: {
                Each: {
                  Type: 'Map',
                  ItemsPath: '$.items',
                  ItemProcessor: { ProcessorConfig: { Mode: 'INLINE' }, StartAt: 'Square', States: { Square: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Parameters: { FunctionName: 'sq', 'Payload.$': '$' }, OutputPath: '$.Payload', End: true } } },
                  End: true,
                },
              },
            },
          ],
          End: true,
        },
      },
    };
    const started = performance.now();
    const result = await runStateMachine(definition, { items: [1, 2, 3] }, { taskHandlers: { Square: (x) => (x as number) ** 2 } });
    assert.deepEqual(result, { status: 'SUCCEEDED', output: [{ n: 3 }, [1, 4, 9]] });
    assert.ok(performance.now() - started < 2000);
  });

  it('a Task past its TimeoutSeconds fails with States.Timeout, which a Catch can name', async () => {
    const definition: JsonObject = {
      StartAt: 'Slow',
      States: {
        Slow: { Type: 'Task', Resource: 'arn:aws:states:::sns:publish', TimeoutSeconds: 1, Catch: [{ ErrorEquals: ['States.Timeout'], ResultPath: '$.error', Next: 'TimedOut' }], End: true },
        TimedOut: { Type: 'Pass', End: true },
      },
    };
    const slow: TaskHandler = () => new Promise((resolve) => setTimeout(() => resolve({ MessageId: 'late' }), 1200));
    const result = await runStateMachine(definition, { topic: 't' }, { taskHandlers: { Slow: slow } });
    assert.equal(result.status, 'SUCCEEDED');
    assert.equal(result.status === 'SUCCEEDED' && (result.output as { error: { Error: string } }).error.Error, 'States.Timeout');
  });
});

async function refused(definition: JsonObject, options: RunOptions = {}): Promise<string> {
  let caught: unknown;
  try {
    await runStateMachine(definition, {}, options);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof UnsupportedDefinitionError, `expected a refusal, got ${String(caught)}`);
  return caught.message;
}

const pass: JsonObject = { StartAt: 'A', States: { A: { Type: 'Pass', End: true } } };

describe('what the runner refuses, before anything runs', () => {
  it('JSONata, at the top or on a state, and its fields', async () => {
    assert.match(await refused({ ...pass, QueryLanguage: 'JSONata' }), /\$\.QueryLanguage: JSONata is not emulated locally; define the state machine in JSONPath/);
    const state = { StartAt: 'A', States: { A: { Type: 'Pass', QueryLanguage: 'JSONata', Output: '{% $states.input.x %}', End: true } } };
    const message = await refused(state);
    assert.match(message, /\$\.States\.A\.QueryLanguage: JSONata is not emulated locally/);
    assert.match(message, /\$\.States\.A\.Output: a JSONata field, not emulated locally/);
  });

  it('Assign and workflow variables, wherever they appear', async () => {
    const definition = {
      StartAt: 'A',
      States: {
        A: { Type: 'Pass', Assign: { total: 1 }, Next: 'B' },
        B: { Type: 'Pass', Parameters: { 'sum.$': '$total' }, Next: 'C' },
        C: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Catch: [{ ErrorEquals: ['States.ALL'], Assign: { failed: true }, Next: 'D' }], End: true },
        D: { Type: 'Succeed' },
      },
    };
    const message = await refused(definition, { taskHandlers: { C: () => null } });
    assert.match(message, /\$\.States\.A\.Assign: workflow variables are not emulated locally/);
    assert.match(message, /\$\.States\.B\.Parameters\.sum\.\$: '\$total' reads a workflow variable/);
    assert.match(message, /\$\.States\.C\.Catch\[0\]\.Assign: workflow variables are not emulated locally/);
  });

  it('a Task with no local handler (an unknown integration is never called for real)', async () => {
    const definition = pipeline();
    const message = await refused(definition, { taskHandlers: { ScoreBatch: () => [] }, distributedMap: { itemReader: () => [], resultWriter: () => undefined } });
    assert.match(message, /\$\.States\.Summarise\.Resource: 'arn:aws:states:::lambda:invoke' has no local handler; give one in taskHandlers\['Summarise'\]/);
    const nested = await refused(definition, { taskHandlers: { Summarise: () => null }, distributedMap: { itemReader: () => [], resultWriter: () => undefined } });
    assert.match(nested, /\$\.States\.ScoreRows\.ItemProcessor\.States\.ScoreBatch\.Resource: 'arn:aws:lambda:local:000000000000:function:Scorer[0-9A-F]{8}' has no local handler/);
    const glue = { StartAt: 'Crawl', States: { Crawl: { Type: 'Task', Resource: 'arn:aws:states:::glue:startCrawler', Parameters: { Name: 'c' }, End: true } } };
    assert.match(await refused(glue), /\$\.States\.Crawl\.Resource: 'arn:aws:states:::glue:startCrawler' has no local handler/);
  });

  it('a Distributed Map reader or writer with no local stand-in, and distributed fields on an inline Map', async () => {
    const message = await refused(pipeline(), { taskHandlers: { ScoreBatch: () => [], Summarise: () => null } });
    assert.match(message, /\$\.States\.ScoreRows\.ItemReader: reads 'arn:aws:states:::s3:getObject'; give distributedMap\.itemReader/);
    assert.match(message, /\$\.States\.ScoreRows\.ResultWriter: writes through 'arn:aws:states:::s3:putObject'; give distributedMap\.resultWriter/);
    const inline = itemsMap({ ItemBatcher: { MaxItemsPerBatch: 2 } });
    ((inline.States as Record<string, JsonObject>).Each!.ItemProcessor as JsonObject).ProcessorConfig = { Mode: 'INLINE' };
    assert.match(await refused(inline, { taskHandlers: { Times: times } }), /\$\.States\.Each\.ItemBatcher: only a DISTRIBUTED Map has it/);
  });

  it('States.TaskFailed in a Distributed Map Catch, and a falsy Pass Result the engine would drop', async () => {
    const caught = itemsMap({ Catch: [{ ErrorEquals: ['States.TaskFailed'], Next: 'Done' }] });
    (caught.States as Record<string, JsonObject>).Done = { Type: 'Succeed' };
    assert.match(await refused(caught, { taskHandlers: { Times: times } }), /\$\.States\.Each\.Catch: States\.TaskFailed never matches a Map state in the cloud/);
    assert.match(await refused({ StartAt: 'A', States: { A: { Type: 'Pass', Result: false, End: true } } }), /\$\.States\.A\.Result: a falsy Result \(false\) is dropped/);
  });

  it('context other than $$.Map.Item in what the Distributed Map adapter evaluates', async () => {
    const definition = itemsMap({ ItemSelector: { 'value.$': '$$.Map.Item.Value', 'run.$': '$$.Execution.Id' } });
    assert.match(await refused(definition, { taskHandlers: { Times: times } }), /\$\.States\.Each\.ItemSelector: '\$\$\.Execution\.Id' is not available to a Distributed Map's ItemSelector locally/);
  });

  it('two Task states of one name (local handlers are keyed by name)', async () => {
    const definition = itemsMap({ Next: 'Times' });
    delete (definition.States as Record<string, JsonObject>).Each!.End;
    (definition.States as Record<string, JsonObject>).Times = { Type: 'Task', Resource: 'arn:aws:states:::sns:publish', End: true };
    assert.match(await refused(definition, { taskHandlers: { Times: times } }), /States\.Times: two Task or Distributed Map states share the name 'Times'/);
  });

  it('a definition the engine finds invalid, every time (only accepted definitions are remembered as checked)', async () => {
    // A unique Comment: never seen before, so the engine's validator runs; then again, and it must run again.
    const broken = { Comment: `broken ${crypto.randomUUID()}`, StartAt: 'A', States: { A: { Type: 'Pass', Next: 'Nowhere' } } };
    for (let attempt = 1; attempt <= 2; attempt++) {
      await assert.rejects(runStateMachine(broken, {}), /definition is invalid[\s\S]*MISSING_TRANSITION_TARGET.*Nowhere/, `attempt ${attempt}`);
    }
    const fine = { Comment: `fine ${crypto.randomUUID()}`, StartAt: 'A', States: { A: { Type: 'Pass', Result: { ok: 1 }, End: true } } };
    for (let attempt = 1; attempt <= 2; attempt++) assert.deepEqual(await runStateMachine(fine, {}), { status: 'SUCCEEDED', output: { ok: 1 } });
  });

  it('names every problem at once', async () => {
    const definition = { QueryLanguage: 'JSONata', StartAt: 'A', States: { A: { Type: 'Task', Resource: 'arn:aws:states:::sns:publish', Assign: { x: 1 }, End: true } } };
    const message = await refused(definition);
    assert.equal(message.split('\n  - ').length - 1, 3, message);
  });
});
