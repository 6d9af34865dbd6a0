// Runs an Amazon States Language definition in process with aws-local-stepfunctions: Task states are the
// caller's local handlers (by state name), waits and retry intervals are scaled (by default to nothing),
// and every Distributed Map is run by this project's adapter (local/pipelines/distributed-map.ts), which reads,
// batches, fans out and writes the way the cloud does. Before anything runs, every construct the runner
// cannot emulate faithfully is refused with its state and field (local/pipelines/checks.ts).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExecutionError, StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { forEachState, isDistributedMap, unsupportedConstructs, type Json, type JsonObject, type LocalCapabilities } from './checks';
import type { CompiledStateMachine, ExecutionResult } from './execution';
import { DISTRIBUTED_MAP_RESOURCE, runDistributedMap, type ItemReader, type MapProgress, type ResultWriter } from './distributed-map';

// aws-local-stepfunctions 3.x uses Promise.withResolvers (Node >= 22); Node 20 lacks it.
type WithResolvers = <T>() => { promise: Promise<T>; resolve: (value: T | PromiseLike<T>) => void; reject: (reason?: unknown) => void };
const PromiseCtor = Promise as unknown as { withResolvers?: WithResolvers };
if (typeof PromiseCtor.withResolvers !== 'function') {
  PromiseCtor.withResolvers = <T>() => {
    let resolve!: (value: T | PromiseLike<T>) => void;
    let reject!: (reason?: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

export type { Json, JsonObject } from './checks';
export type { CompiledStateMachine, ExecutionResult } from './execution';
export type { ChildExecutionRecord, ItemReader, ItemReaderRequest, MapProgress, ResultWriter, ResultWriterRequest } from './distributed-map';

export interface TaskContext {
  /** The Task state's name. */
  readonly stateName: string;
  /** Its `Resource` (e.g. `arn:aws:states:::lambda:invoke`). */
  readonly resource: string;
}

/**
 * A local stand-in for a Task state. For `arn:aws:states:::lambda:invoke` (and a function ARN) it is the
 * function: it receives the event (`Payload`) and returns the function's result; the runner wraps it in
 * the invoke response the cloud returns. For any other resource it receives the state's effective input
 * (after InputPath and Parameters) and returns what the service would. Throwing fails the task with the
 * error's `name` as the States error, which Retry and Catch match.
 */
export type TaskHandler = (input: Json, context: TaskContext) => Promise<unknown> | unknown;

export interface DistributedMapOptions {
  /** Reads the items of an `ItemReader` (S3 object or listing) locally. */
  readonly itemReader?: ItemReader;
  /** Writes a `ResultWriter`'s results locally. */
  readonly resultWriter?: ResultWriter;
  /**
   * Child executions in flight at once (further capped by the state's MaxConcurrency).
   * @default - os.availableParallelism()
   */
  readonly concurrency?: number;
  /** Called after each child execution ends (items read, done, failed): a progress bar's feed. */
  readonly onProgress?: (progress: MapProgress) => void;
}

export interface RunOptions {
  /** Task state name -> its local handler. Every Task state needs one. */
  readonly taskHandlers?: Readonly<Record<string, TaskHandler>>;
  readonly distributedMap?: DistributedMapOptions;
  /**
   * Factor on Wait seconds and Retry intervals: 0 runs them without waiting, 1 in real time (with the
   * cloud's backoff). Between, a Wait's Seconds and each retry interval are scaled (without backoff), and
   * waits given by SecondsPath or a timestamp are skipped.
   * @default 0
   */
  readonly timeScale?: number;
  /**
   * Execution name, for the context object and the ARNs of child executions.
   * @default - a random UUID
   */
  readonly executionName?: string;
}

/** The definition uses something the local runner cannot emulate faithfully. */
export class UnsupportedDefinitionError extends Error {
  override readonly name = 'UnsupportedDefinitionError';
  constructor(readonly problems: readonly string[]) {
    super(`the local runner refuses this state machine:\n  - ${problems.join('\n  - ')}`);
  }
}

/** Task states without TimeoutSeconds never time out in the cloud; the engine would stop them at 60 s. */
const NO_TASK_TIMEOUT_SECONDS = 2_147_483; // setTimeout's largest delay, in seconds
const LAMBDA_INVOKE = /^arn:[a-z-]+:states:::lambda:invoke$/;
const LAMBDA_FUNCTION = /^arn:[a-z-]+:lambda:[^:]*:[^:]*:function:/;

function toJson(value: unknown): Json {
  return value === undefined ? null : (JSON.parse(JSON.stringify(value)) as Json);
}

/** The cloud's shape of a failed Lambda function, as the Cause of its States error. */
function lambdaCause(error: Error): string {
  return JSON.stringify({ errorType: error.name, errorMessage: error.message, trace: (error.stack ?? '').split('\n') });
}

function asError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  const error = new Error(typeof thrown === 'string' ? thrown : JSON.stringify(thrown));
  error.name = 'Error';
  return error;
}

function taskError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

function wrapTask(stateName: string, resource: string, handler: TaskHandler): (input: Json) => Promise<Json> {
  const context: TaskContext = { stateName, resource };
  if (LAMBDA_INVOKE.test(resource)) {
    return async (input) => {
      const payload = input !== null && typeof input === 'object' && !Array.isArray(input) && 'Payload' in input ? input.Payload! : null;
      let result: unknown;
      try {
        result = await handler(payload, context);
      } catch (thrown) {
        const error = asError(thrown);
        throw taskError(error.name, lambdaCause(error));
      }
      return { ExecutedVersion: '$LATEST', Payload: toJson(result), SdkHttpMetadata: { HttpStatusCode: 200 }, SdkResponseMetadata: {}, StatusCode: 200 };
    };
  }
  const isFunction = LAMBDA_FUNCTION.test(resource);
  return async (input) => {
    try {
      return toJson(await handler(input, context));
    } catch (thrown) {
      const error = asError(thrown);
      throw taskError(error.name, isFunction ? lambdaCause(error) : error.message);
    }
  };
}

interface Prepared {
  readonly definition: JsonObject;
  readonly handlers: Record<string, (input: Json) => Promise<Json>>;
  readonly waits: Record<string, number>;
  readonly retries: Record<string, number[]>;
}

/**
 * The definition the engine runs: each Distributed Map becomes a Task of the same name (keeping InputPath,
 * ResultSelector, ResultPath, OutputPath, Retry, Catch, Next/End) whose handler is the adapter; Tasks
 * without a timeout get the cloud's (none).
 */
function prepare(definition: JsonObject, options: RunOptions, executionArn: () => string): Prepared {
  const copy = structuredClone(definition);
  // An item processor run on its own: its ProcessorConfig belongs to the Map, not to a state machine.
  delete copy.ProcessorConfig;
  const handlers: Record<string, (input: Json) => Promise<Json>> = {};
  const waits: Record<string, number> = {};
  const retries: Record<string, number[]> = {};
  const scale = options.timeScale ?? 0;
  const convert = (machine: JsonObject): void => {
    const states = machine.States as Record<string, JsonObject>;
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Map' && isDistributedMap(state)) {
        const { InputPath, ResultSelector, ResultPath, OutputPath, Retry, Catch, Next, End, Comment } = state;
        const task: JsonObject = { Type: 'Task', Resource: DISTRIBUTED_MAP_RESOURCE, TimeoutSeconds: NO_TASK_TIMEOUT_SECONDS };
        for (const [key, value] of Object.entries({ Comment, InputPath, ResultSelector, ResultPath, OutputPath, Retry, Catch, Next, End })) {
          if (value !== undefined) task[key] = value;
        }
        states[name] = task;
        const processor = compile(state.ItemProcessor as JsonObject, options);
        handlers[name] = (input) => runDistributedMap(name, state, input, processor, options.distributedMap ?? {}, executionArn());
        continue;
      }
      if (state.Type === 'Task') {
        if (state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined) state.TimeoutSeconds = NO_TASK_TIMEOUT_SECONDS;
        const handler = options.taskHandlers?.[name];
        if (handler) handlers[name] = wrapTask(name, String(state.Resource), handler);
      }
      if (Array.isArray(state.Branches)) state.Branches.forEach((branch) => convert(branch as JsonObject));
      const inline = state.ItemProcessor ?? state.Iterator;
      if (inline) convert(inline as JsonObject);
    }
  };
  convert(copy);
  forEachState(copy, (name, state) => {
    if (state.Type === 'Wait' && scale !== 1) {
      waits[name] = typeof state.Seconds === 'number' ? state.Seconds * 1000 * scale : 0;
    }
    if (Array.isArray(state.Retry) && scale !== 1) {
      retries[name] = state.Retry.map((retrier) => ((retrier as JsonObject).IntervalSeconds as number | undefined ?? 1) * 1000 * scale);
    }
  });
  return { definition: copy, handlers, waits, retries };
}

/**
 * The engine validates a definition with asl-validator, which compiles its JSON schemas on every call
 * (~350-500 ms, paid by every `mlship batch`). Validation is deterministic, so a definition it accepted is
 * recorded by the hash of the engine's code and the definition's text, in this process and in a per-user
 * cache folder, and not checked again. The runner's own refusals (checks.ts) run every time.
 */
const validated = new Set<string>();
const VALIDATED_DIR = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'mlship', 'asl-validated');
let engineHash: string | undefined;

function validationKey(text: string): string {
  engineHash ??= createHash('sha256').update(readFileSync(fileURLToPath(import.meta.resolve('aws-local-stepfunctions')))).digest('hex');
  return createHash('sha256').update(engineHash).update('\0').update(text).digest('hex');
}

function knownValid(key: string): boolean {
  return validated.has(key) || existsSync(join(VALIDATED_DIR, key));
}

function rememberValid(key: string): void {
  if (validated.size >= 64) validated.clear();
  validated.add(key);
  try {
    mkdirSync(VALIDATED_DIR, { recursive: true });
    writeFileSync(join(VALIDATED_DIR, key), '');
  } catch {
    // Only a cache: the next process validates again.
  }
}

function compile(definition: JsonObject, options: RunOptions): CompiledStateMachine {
  let currentArn = '';
  const prepared = prepare(definition, options, () => currentArn);
  const key = validationKey(JSON.stringify(prepared.definition));
  const known = knownValid(key);
  // The engine throws on a definition it finds invalid, so reaching the next line means it passed.
  const machine = new StateMachine(prepared.definition as unknown as StateMachineDefinition, { validationOptions: known ? { noValidate: true } : { checkArn: false } });
  if (!known) rememberValid(key);
  const stateMachineName = 'local';
  return async (input, executionName = crypto.randomUUID()) => {
    currentArn = `arn:aws:states:local:000000000000:execution:${stateMachineName}:${executionName}`;
    const execution = machine.run(input, {
      overrides: { taskResourceLocalHandlers: prepared.handlers, waitTimeOverrides: prepared.waits, retryIntervalOverrides: prepared.retries },
      context: {
        Execution: { Id: currentArn, Name: executionName, RoleArn: 'arn:aws:iam::000000000000:role/local', StartTime: new Date().toISOString() },
        StateMachine: { Id: `arn:aws:states:local:000000000000:stateMachine:${stateMachineName}`, Name: stateMachineName },
      },
    });
    try {
      return { status: 'SUCCEEDED', output: await execution.result };
    } catch (error) {
      if (error instanceof ExecutionError && error.cause instanceof Error) {
        return { status: 'FAILED', error: error.cause.name, cause: error.cause.message };
      }
      throw error;
    }
  };
}

function capabilities(options: RunOptions): LocalCapabilities {
  return {
    taskStates: new Set(Object.keys(options.taskHandlers ?? {})),
    itemReader: options.distributedMap?.itemReader !== undefined,
    resultWriter: options.distributedMap?.resultWriter !== undefined,
  };
}

/**
 * Checks a definition and prepares it to run; throws UnsupportedDefinitionError listing every construct
 * it cannot emulate faithfully.
 */
export function compileStateMachine(definition: JsonObject, options: RunOptions = {}): CompiledStateMachine {
  const problems = unsupportedConstructs(definition, capabilities(options));
  if (problems.length > 0) throw new UnsupportedDefinitionError(problems);
  return compile(definition, options);
}

/** Runs one execution of a definition locally: its output, or its States error and cause. */
export async function runStateMachine(definition: JsonObject, input: Json, options: RunOptions = {}): Promise<ExecutionResult> {
  return compileStateMachine(definition, options)(input, options.executionName);
}
