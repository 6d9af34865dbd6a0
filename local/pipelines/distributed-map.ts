// A Distributed Map run locally, as the cloud runs it: items from the ItemReader (through the caller's
// reader) or ItemsPath, ItemSelector per item, ItemBatcher (MaxItemsPerBatch, MaxInputBytesPerBatch,
// BatchInput), one child execution of the ItemProcessor per item or batch (at most `concurrency` at once),
// ToleratedFailurePercentage / ToleratedFailureCount (States.ExceedToleratedFailureThreshold beyond them),
// and the output the cloud gives: the child outputs, or with a ResultWriter the results written through the
// caller's writer and `{ MapRunArn, ResultWriterDetails }`.
import { availableParallelism } from 'node:os';
import { ExecutionError, StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import type { Json, JsonObject } from './checks';
import type { CompiledStateMachine } from './execution';

/** The Resource of the Task a Distributed Map becomes for the engine; the adapter is its handler. */
export const DISTRIBUTED_MAP_RESOURCE = 'arn:aws:states:::mlship:localDistributedMap';

export interface ItemReaderRequest {
  /** The map state's name. */
  readonly stateName: string;
  /** `arn:aws:states:::s3:getObject` or `arn:aws:states:::s3:listObjectsV2`. */
  readonly resource: string;
  /** ItemReader.Parameters with its paths resolved against the state input (Bucket, Key or Prefix). */
  readonly parameters: JsonObject;
  /** ItemReader.ReaderConfig as written (InputType, CSVHeaderLocation, CSVHeaders, CSVDelimiter, ...). */
  readonly readerConfig: JsonObject;
}

/**
 * Reads the items the cloud would: a CSV row as an object of strings keyed by header, a JSON Lines line
 * parsed, an object of a listing as `{ Etag, Key, LastModified, Size, StorageClass }`. MaxItems is applied
 * by the adapter.
 */
export type ItemReader = (request: ItemReaderRequest) => AsyncIterable<unknown> | Iterable<unknown> | Promise<Iterable<unknown>>;

/** A child execution's record as the cloud writes it (Transformation NONE). */
export interface ChildExecutionRecord {
  readonly ExecutionArn: string;
  readonly Name: string;
  readonly Input: string;
  readonly InputDetails: { readonly Included: true };
  readonly Output?: string;
  readonly OutputDetails?: { readonly Included: true };
  readonly Error?: string;
  readonly Cause?: string;
  readonly RedriveCount: 0;
  readonly RedriveStatus: 'NOT_REDRIVABLE';
  readonly StartDate: string;
  readonly StopDate: string;
  readonly StateMachineArn: string;
  readonly Status: 'SUCCEEDED' | 'FAILED';
}

export interface ResultWriterRequest {
  readonly stateName: string;
  /** `arn:aws:states:::s3:putObject`. */
  readonly resource: string;
  /** ResultWriter.Parameters resolved (Bucket, Prefix). */
  readonly parameters: JsonObject;
  /** ResultWriter.WriterConfig as written, if any (Transformation, OutputType). */
  readonly writerConfig?: JsonObject;
  readonly mapRunArn: string;
  /** Where the cloud puts the manifest: `<Prefix>/<map run id>/manifest.json`. */
  readonly manifestKey: string;
  /** Succeeded children, transformed as WriterConfig says (NONE: records; COMPACT: outputs; FLATTEN: outputs, arrays flattened). */
  readonly succeeded: readonly unknown[];
  /** Failed children, always as records (the cloud leaves them untransformed). */
  readonly failed: readonly ChildExecutionRecord[];
}

/** Writes the results where the cloud would (SUCCEEDED_n / FAILED_n / manifest.json under the prefix). */
export type ResultWriter = (request: ResultWriterRequest) => Promise<void> | void;

/** How far a Distributed Map run has got: reported after each child execution ends. */
export interface MapProgress {
  readonly stateName: string;
  /** Items read so far (all of them once `readingDone`). */
  readonly itemsRead: number;
  readonly readingDone: boolean;
  /** Items whose child execution has ended, and how many of those failed. */
  readonly itemsDone: number;
  readonly itemsFailed: number;
}

export interface DistributedMapRunOptions {
  readonly itemReader?: ItemReader;
  readonly resultWriter?: ResultWriter;
  readonly concurrency?: number;
  readonly onProgress?: (progress: MapProgress) => void;
}

class StatesError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

const EXCEEDED = 'States.ExceedToleratedFailureThreshold';
const NO_EMPTY_OBJECT: JsonObject = {};

/** Evaluates a JSONPath payload template (`"key.$": "$.path"`, intrinsics, `$$`) with the engine itself. */
function evaluator(template: Json): (input: Json, context?: JsonObject) => Promise<Json> {
  const machine = new StateMachine({ StartAt: 'Evaluate', States: { Evaluate: { Type: 'Pass', Parameters: template, End: true } } } as unknown as StateMachineDefinition, {
    validationOptions: { noValidate: true },
  });
  return async (input, context) => {
    try {
      return await machine.run(input, context ? { context } : {}).result;
    } catch (error) {
      // The engine's own error (States.Runtime for a path that matches nothing), not its wrapper.
      throw error instanceof ExecutionError && error.cause instanceof Error ? error.cause : error;
    }
  };
}

const SIMPLE_PATH = /^\$((?:\.[A-Za-z_][A-Za-z0-9_]*)*)$/;
const ITEM_PATH = /^\$\$\.Map\.Item\.(Value|Index)((?:\.[A-Za-z_][A-Za-z0-9_]*)*)$/;

function follow(value: Json | undefined, dotted: string): Json | undefined {
  let current = value;
  for (const key of dotted.split('.').slice(1)) {
    if (current === null || typeof current !== 'object' || Array.isArray(current) || !(key in current)) return undefined;
    current = current[key];
  }
  return current;
}

/**
 * ItemSelector per item. A flat selector of literals, `$.a.b` and `$$.Map.Item.Value.a` paths is applied
 * directly (five times faster than an engine run per item); anything else, and any path that does not
 * resolve (so the engine raises the cloud's error), goes through the engine.
 */
function itemSelector(selector: Json): (input: Json, context: { Map: { Item: { Index: number; Value: Json } } }) => Promise<Json> {
  const slow = evaluator(selector);
  if (selector === null || typeof selector !== 'object' || Array.isArray(selector)) return slow;
  const fields: ((input: Json, item: { Index: number; Value: Json }) => [string, Json | undefined])[] = [];
  for (const [key, value] of Object.entries(selector)) {
    if (!key.endsWith('.$')) {
      if (value !== null && typeof value === 'object') return slow;
      fields.push(() => [key, value]);
      continue;
    }
    const name = key.slice(0, -2);
    const simple = typeof value === 'string' ? SIMPLE_PATH.exec(value) : null;
    const item = typeof value === 'string' ? ITEM_PATH.exec(value) : null;
    if (simple) fields.push((input) => [name, follow(input, simple[1]!)]);
    else if (item) fields.push((_, it) => [name, item[1] === 'Index' ? (item[2] ? undefined : it.Index) : follow(it.Value, item[2]!)]);
    else return slow;
  }
  return async (input, context) => {
    const out: JsonObject = {};
    for (const field of fields) {
      const [name, value] = field(input, context.Map.Item);
      if (value === undefined) return slow(input, context);
      out[name] = value;
    }
    return out;
  };
}

async function valueOrPath(state: JsonObject, field: string, input: Json): Promise<number | undefined> {
  if (typeof state[field] === 'number') return state[field];
  const path = state[`${field}Path`];
  if (typeof path !== 'string') return undefined;
  const value = ((await evaluator({ 'v.$': path })(input)) as JsonObject).v;
  if (typeof value !== 'number') throw new StatesError('States.Runtime', `${field}Path '${path}' evaluated to ${JSON.stringify(value)}, but expected a number`);
  return value;
}

/** The cloud's error when the ItemReader cannot read (a missing object, a malformed file). */
function readerFailed(error: unknown): StatesError {
  return new StatesError('States.ItemReaderFailed', error instanceof Error ? error.message : String(error));
}

type ItemSource = Iterable<unknown> | AsyncIterable<unknown>;

function isSync(source: ItemSource): source is Iterable<unknown> {
  return typeof (source as Iterable<unknown>)[Symbol.iterator] === 'function';
}

interface Unit {
  readonly input: Json;
  readonly size: number;
}

/**
 * The children's inputs: the items (from the reader after MaxItems, or ItemsPath), each through
 * ItemSelector, grouped as ItemBatcher says (`{ Items, BatchInput? }`) or one child per item. A synchronous
 * source is walked without an await per item.
 */
async function* units(stateName: string, state: JsonObject, input: Json, options: DistributedMapRunOptions): AsyncGenerator<Unit> {
  let source: ItemSource;
  let maxItems = Infinity;
  const reader = state.ItemReader as JsonObject | undefined;
  if (reader) {
    if (!options.itemReader) throw new StatesError('States.Runtime', `${stateName}.ItemReader: no local item reader`);
    const parameters = reader.Parameters ? ((await evaluator(reader.Parameters)(input)) as JsonObject) : NO_EMPTY_OBJECT;
    const readerConfig = (reader.ReaderConfig ?? {}) as JsonObject;
    maxItems = (await valueOrPath(readerConfig, 'MaxItems', input)) ?? Infinity;
    try {
      source = await options.itemReader({ stateName, resource: String(reader.Resource), parameters, readerConfig });
    } catch (error) {
      throw readerFailed(error);
    }
  } else {
    const path = typeof state.ItemsPath === 'string' ? state.ItemsPath : '$';
    const list = ((await evaluator({ 'v.$': path })(input)) as JsonObject).v;
    if (!Array.isArray(list)) throw new StatesError('States.Runtime', `${stateName}: ItemsPath '${path}' evaluated to ${JSON.stringify(list)}, but expected an array`);
    source = list;
  }
  const selector = state.ItemSelector ?? state.Parameters;
  const select = selector !== undefined ? itemSelector(selector) : undefined;

  const batcher = state.ItemBatcher as JsonObject | undefined;
  const maxPerBatch = batcher ? ((await valueOrPath(batcher, 'MaxItemsPerBatch', input)) ?? Infinity) : 1;
  const maxBytes = batcher ? ((await valueOrPath(batcher, 'MaxInputBytesPerBatch', input)) ?? Infinity) : Infinity;
  const batchInput = batcher?.BatchInput !== undefined ? await evaluator(batcher.BatchInput)(input) : undefined;
  const make = (batch: Json[]): Unit =>
    !batcher ? { input: batch[0]!, size: 1 } : { input: batchInput === undefined ? { Items: batch } : { Items: batch, BatchInput: batchInput }, size: batch.length };

  let batch: Json[] = [];
  let bytes = 0;
  let index = 0;
  const syncIterator = isSync(source) ? source[Symbol.iterator]() : undefined;
  const asyncIterator = isSync(source) ? undefined : source[Symbol.asyncIterator]();
  while (index < maxItems) {
    let next: IteratorResult<unknown>;
    try {
      next = syncIterator ? syncIterator.next() : await asyncIterator!.next();
    } catch (error) {
      throw readerFailed(error);
    }
    if (next.done) break;
    let item = next.value === undefined ? null : (next.value as Json);
    if (select) item = await select(input, { Map: { Item: { Index: index, Value: item } } });
    index += 1;
    const size = Number.isFinite(maxBytes) ? Buffer.byteLength(JSON.stringify(item)) : 0;
    if (batch.length > 0 && (batch.length >= maxPerBatch || bytes + size > maxBytes)) {
      yield make(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(item);
    bytes += size;
  }
  if (batch.length > 0) yield make(batch);
}

function transform(records: readonly ChildExecutionRecord[], outputs: readonly Json[], transformation: string): unknown[] {
  if (transformation === 'NONE') return [...records];
  if (transformation === 'FLATTEN') return outputs.flatMap((output) => (Array.isArray(output) ? output : [output]));
  return [...outputs];
}

/**
 * Runs one Distributed Map state on its effective input (after InputPath); the engine applies
 * ResultSelector, ResultPath, OutputPath, Retry and Catch around it.
 */
export async function runDistributedMap(
  stateName: string,
  state: JsonObject,
  input: Json,
  processor: CompiledStateMachine,
  options: DistributedMapRunOptions,
  parentExecutionArn: string,
): Promise<Json> {
  const mapRunId = crypto.randomUUID();
  const parentName = parentExecutionArn.split(':').at(-1) || 'local';
  const mapRunArn = `arn:aws:states:local:000000000000:mapRun:local/${stateName}:${mapRunId}`;
  const stateMachineArn = `arn:aws:states:local:000000000000:stateMachine:local/${stateName}`;
  const maxConcurrency = await valueOrPath(state, 'MaxConcurrency', input); // 0 or absent: no limit but the cloud's
  const concurrency = Math.max(1, Math.min(options.concurrency ?? availableParallelism(), maxConcurrency ? maxConcurrency : Infinity));
  const toleratedPercent = await valueOrPath(state, 'ToleratedFailurePercentage', input);
  const toleratedCount = await valueOrPath(state, 'ToleratedFailureCount', input);
  const tolerance = (failed: number, total: number, complete: boolean): boolean => {
    if (toleratedCount === undefined && toleratedPercent === undefined) return failed === 0;
    if (toleratedCount !== undefined && failed > toleratedCount) return false;
    if (complete && toleratedPercent !== undefined && total > 0 && (failed / total) * 100 > toleratedPercent) return false;
    return true;
  };

  const records: ChildExecutionRecord[] = [];
  const outputs: Json[] = [];
  let total = 0;
  let failedItems = 0;
  let doneItems = 0;
  let readingDone = false;
  let exceeded = false;
  const runChild = async (unit: Unit, index: number): Promise<void> => {
    const name = `${parentName}_${mapRunId.slice(0, 8)}_${index}`;
    const startDate = new Date().toISOString();
    const result = await processor(unit.input, name);
    const base = {
      ExecutionArn: `arn:aws:states:local:000000000000:execution:local/${stateName}:${name}`,
      Name: name,
      Input: JSON.stringify(unit.input),
      InputDetails: { Included: true as const },
      RedriveCount: 0 as const,
      RedriveStatus: 'NOT_REDRIVABLE' as const,
      StartDate: startDate,
      StopDate: new Date().toISOString(),
      StateMachineArn: stateMachineArn,
    };
    if (result.status === 'SUCCEEDED') {
      records[index] = { ...base, Output: JSON.stringify(result.output), OutputDetails: { Included: true }, Status: 'SUCCEEDED' };
      outputs[index] = result.output;
    } else {
      records[index] = { ...base, Error: result.error, Cause: result.cause, Status: 'FAILED' };
      failedItems += unit.size;
      if (!tolerance(failedItems, total, false)) exceeded = true;
    }
    doneItems += unit.size;
    options.onProgress?.({ stateName, itemsRead: total, readingDone, itemsDone: doneItems, itemsFailed: failedItems });
  };

  // A pool of `concurrency` child executions fed from the (lazy) batches.
  const inFlight = new Set<Promise<void>>();
  let index = 0;
  for await (const unit of units(stateName, state, input, options)) {
    if (exceeded) break;
    total += unit.size;
    const child = runChild(unit, index++).finally(() => inFlight.delete(child));
    inFlight.add(child);
    if (inFlight.size >= concurrency) await Promise.race(inFlight);
  }
  readingDone = !exceeded;
  await Promise.all(inFlight);
  if (!exceeded && !tolerance(failedItems, total, true)) exceeded = true;

  const all = records.filter(Boolean);
  const failedRecords = all.filter((r) => r.Status === 'FAILED');
  const succeededRecords = all.filter((r) => r.Status === 'SUCCEEDED');
  const succeededOutputs = outputs.filter((_, i) => records[i]?.Status === 'SUCCEEDED');
  const writer = state.ResultWriter as JsonObject | undefined;
  const writerConfig = writer?.WriterConfig as JsonObject | undefined;
  let output: Json;
  if (writer && 'Resource' in writer) {
    if (!options.resultWriter) throw new StatesError('States.Runtime', `${stateName}.ResultWriter: no local result writer`);
    const parameters = writer.Parameters ? ((await evaluator(writer.Parameters)(input)) as JsonObject) : NO_EMPTY_OBJECT;
    const prefix = typeof parameters.Prefix === 'string' ? parameters.Prefix.replace(/\/+$/, '') : '';
    const manifestKey = `${prefix ? `${prefix}/` : ''}${mapRunId}/manifest.json`;
    const transformation = typeof writerConfig?.Transformation === 'string' ? writerConfig.Transformation : 'NONE';
    try {
      await options.resultWriter({
        stateName,
        resource: String(writer.Resource),
        parameters,
        ...(writerConfig ? { writerConfig } : {}),
        mapRunArn,
        manifestKey,
        succeeded: transform(succeededRecords, succeededOutputs, transformation),
        failed: failedRecords,
      });
    } catch (error) {
      throw new StatesError('States.ResultWriterFailed', error instanceof Error ? error.message : String(error));
    }
    output = { MapRunArn: mapRunArn, ResultWriterDetails: { Bucket: parameters.Bucket ?? null, Key: manifestKey } };
  } else {
    // In the state output: COMPACT by default (each child's output), failed children as records; in order.
    const transformation = typeof writerConfig?.Transformation === 'string' ? writerConfig.Transformation : 'COMPACT';
    const ordered: Json[] = [];
    records.forEach((record, i) => {
      const value = outputs[i]!;
      if (record.Status === 'FAILED' || transformation === 'NONE') ordered.push(record as unknown as Json);
      else if (transformation === 'FLATTEN' && Array.isArray(value)) ordered.push(...value);
      else ordered.push(value);
    });
    output = ordered;
  }
  if (exceeded) {
    throw new StatesError(EXCEEDED, `The specified tolerated failure threshold was exceeded (${failedItems} of ${total} items failed${toleratedPercent !== undefined ? `, tolerated ${toleratedPercent}%` : ''}${toleratedCount !== undefined ? `, tolerated ${toleratedCount} items` : ''})`);
  }
  return output;
}
