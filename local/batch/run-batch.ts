// `mlship batch` without AWS: the batch state machine taken from the synthesized stack, run by the local
// runner over local folders. The data bucket is a MountedObjectStore: the input file's folder (or the
// input folder) is `input/`, the output folder `output/`, a temp folder `_work/`; so the user's files are
// read and written in place. Every Task state runs the same handler code as its Lambda function (the
// batch scorer in worker threads, one per core, each loading the model once); a SageMaker model's
// Batch Transform job runs through the local endpoint's v2 code; notifications are collected.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, type Stats } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { createCollectHandler, createPlanHandler, createSummariseHandler, type CollectEvent, type PlanEvent, type SummariseEvent } from '../../lambdas/core/batch/pipeline/handlers';
import type { PlanModel } from '../../lambdas/core/batch/pipeline/plan';
import type { BatchPlan, BatchSummary, ScoreBatchEvent } from '../../lambdas/core/batch/pipeline/types';
import type { BatchFormat } from '../../lambdas/core/batch/batch-format';
import { explainMaxEvaluationsOf, explainTopKProblem } from '../../lambdas/core/batch/explain-settings';
import { ServedModel } from '../../lambdas/core/models/inference-session';
import { withoutStackTrace } from '../../lambdas/core/pipelines/step-errors';
import type { LoadedManifest } from '../../lambdas/core/manifest/load';
import { batchStateMachineName } from '../../lib/batch/batch-scoring-pipeline';
import { stackName } from '../../lib/stack/stack-names';
import { forEachState } from '../pipelines/checks';
import { objectStoreItemReader, objectStoreResultWriter } from '../pipelines/object-store-io';
import { runStateMachine, type Json, type JsonObject, type TaskContext, type TaskHandler } from '../pipelines/runner';
import { stateMachineDefinition, synthesizeStackTemplate, type StackTemplate } from '../pipelines/stack-template';
import { MountedObjectStore } from '../storage/mounted-object-store';
import { localTransformJob } from './transform-job';
import { poolSizeFor, ScoreWorkerPool } from './worker-pool';

/** The local data bucket's name (the state machine's data bucket reference resolves to it). */
export const LOCAL_DATA_BUCKET = 'mlship-local-data';

export type LocalBatchProgress =
  | { readonly phase: 'plan' }
  | { readonly phase: 'score'; readonly rowsIn: number; readonly rowsDone: number; readonly rowsFailed: number }
  | { readonly phase: 'transform'; readonly rowsIn: number }
  | { readonly phase: 'summarise'; readonly rowsIn: number };

export interface LocalBatchOptions {
  readonly loaded: LoadedManifest;
  /** The synthesized template (to run several batches from one synth); synthesized when left out. */
  readonly template?: StackTemplate;
  readonly model: string;
  /** A CSV or JSON Lines file (.gz too), or a folder of them. */
  readonly input: string;
  /** Folder for scored.csv, rejects.jsonl and summary.json (created when missing). */
  readonly output: string;
  readonly format?: BatchFormat;
  /**
   * Each scored row's top k attributions as columns (`mlship batch --explain K`), overriding the manifest's
   * batch.explainTopK; 0: none. Sent as the execution input's explainTopK, as a cloud run would be.
   * @default - the manifest's batch.explainTopK
   */
  readonly explainTopK?: number;
  /**
   * Most threads scoring batches: this one, and up to concurrency - 1 worker threads, one per 48 MiB of
   * input (a smaller input is scored sooner without one: worker-pool.ts).
   * @default - os.availableParallelism()
   */
  readonly concurrency?: number;
  /**
   * Worker threads to start whatever the input's size (besides this thread, which always scores).
   * @default - one per 48 MiB of input, up to concurrency - 1
   */
  readonly workerThreads?: number;
  /**
   * Keep the work files (rows, parts, map results) after a successful run; a failed run always keeps them.
   * @default false
   */
  readonly keepWork?: boolean;
  /** Called as the run moves on: a progress bar's feed. */
  readonly onProgress?: (progress: LocalBatchProgress) => void;
  /** Wraps a Task state's local handler (tests: a scorer that fails for one batch). */
  readonly wrapTask?: (stateName: string, handler: TaskHandler) => TaskHandler;
}

export interface LocalBatchResult {
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly summary?: BatchSummary;
  readonly error?: string;
  readonly cause?: string;
  /** What the state machine published to the topic. */
  readonly notifications: readonly { readonly subject: string; readonly message: string }[];
  /** The work folder; removed after success unless keepWork. */
  readonly workDir: string;
  readonly workKept: boolean;
  /** Batches scored by this thread and by worker threads. */
  readonly scoredBy: { readonly callingThread: number; readonly workers: number };
}

/** The input or output cannot be used as given. */
export class LocalBatchError extends Error {
  override readonly name = 'LocalBatchError';
}

function inside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep) && !/^[A-Za-z]:/.test(rel));
}

/** The logical id of the stack's data bucket (the `DataBucketName` output's Ref). */
function dataBucketId(template: StackTemplate['template']): string {
  const value = (template.Outputs as Record<string, { Value?: { Ref?: string } }> | undefined)?.DataBucketName?.Value?.Ref;
  if (typeof value !== 'string') throw new Error('the stack has no DataBucketName output naming its data bucket');
  return value;
}

/** Bytes to score: the file's, or the files' under the folder (a .gz counting 5 times, about what CSV compresses by). */
function inputBytes(input: string, stat: Stats): number {
  const weigh = (path: string, size: number) => (path.endsWith('.gz') ? size * 5 : size);
  if (!stat.isDirectory()) return weigh(input, stat.size);
  let total = 0;
  for (const entry of readdirSync(input, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    total += weigh(path, statSync(path).size);
  }
  return total;
}

export async function runLocalBatch(options: LocalBatchOptions): Promise<LocalBatchResult> {
  const { loaded } = options;
  const model = loaded.models.find((m) => m.entry.name === options.model);
  if (!model) throw new LocalBatchError(`unknown model '${options.model}'; ${loaded.file} has: ${loaded.models.map((m) => m.entry.name).join(', ')}`);
  if (options.explainTopK !== undefined) {
    const problem = explainTopKProblem(options.explainTopK, model.card, model.entry.runtime, '--explain');
    if (problem) throw new LocalBatchError(problem);
  }
  const input = resolve(options.input);
  const output = resolve(options.output);
  let inputStat;
  try {
    inputStat = statSync(input);
  } catch {
    throw new LocalBatchError(`--input ${options.input}: no such file or folder`);
  }
  if (inputStat.isDirectory() && inside(output, input)) throw new LocalBatchError(`--output ${options.output} is inside --input ${options.input}: a second run would read the outputs of the first`);
  mkdirSync(output, { recursive: true });
  const workDir = mkdtempSync(join(tmpdir(), 'mlship-batch-'));
  const inputFolder = inputStat.isDirectory() ? input : dirname(input);
  const store = new MountedObjectStore(LOCAL_DATA_BUCKET, [
    { prefix: 'input/', folder: inputFolder },
    { prefix: 'output/', folder: output },
    { prefix: '_work/', folder: workDir },
  ]);
  const request = {
    model: options.model,
    input: inputStat.isDirectory() ? 'input/' : `input/${basename(input)}`,
    output: 'output/',
    ...(options.format ? { format: options.format } : {}),
    ...(options.explainTopK !== undefined ? { explainTopK: options.explainTopK } : {}),
  };

  const stack = options.template ?? synthesizeStackTemplate(loaded);
  const definition = stateMachineDefinition(stack.template, batchStateMachineName(stackName(loaded.manifest.project, stack.stage)), { [dataBucketId(stack.template)]: { Ref: LOCAL_DATA_BUCKET, Arn: `arn:aws:s3:::${LOCAL_DATA_BUCKET}` } });

  const bucket = LOCAL_DATA_BUCKET;
  const planModels = new Map<string, PlanModel>(
    loaded.models.map((m) => {
      // As the stack writes BATCH_MODELS for the plan function (lib/batch).
      const maxEvaluations = explainMaxEvaluationsOf(m.entry);
      const explain = { explainTopK: m.entry.batch.explainTopK, ...(maxEvaluations !== undefined ? { explainMaxEvaluations: maxEvaluations } : {}) };
      return [m.entry.name, m.entry.runtime === 'sagemaker' ? { card: m.card, runtime: 'sagemaker', ...explain } : { card: m.card, runtime: 'lambda', rowsPerBatch: m.entry.batch.rowsPerBatch, ...explain }];
    }),
  );
  const locate = (key: string) => store.path(key);
  const scorers = options.workerThreads !== undefined ? { workers: options.workerThreads, callingThread: true } : poolSizeFor(Math.max(1, options.concurrency ?? availableParallelism()), inputBytes(input, inputStat));
  const notifications: { subject: string; message: string }[] = [];
  let rowsIn = 0;
  /** Rows of the batches scored so far, and of the batches that failed (by first row). */
  let rowsDone = 0;
  const rowsFailed = new Map<number, number>();
  let pool: ScoreWorkerPool | undefined;
  let served: Promise<ServedModel> | undefined;
  const progress = options.onProgress ?? (() => undefined);

  const plan = createPlanHandler({ store, bucket, models: planModels });
  const collect = createCollectHandler({ store, bucket, cards: new Map(loaded.models.map((m) => [m.entry.name, m.card])) });
  const summarise = createSummariseHandler({ store, bucket, stage: stack.stage, locate });
  const handlers: Record<string, TaskHandler> = {};
  forEachState(definition, (name, state) => {
    if (state.Type !== 'Task') return;
    let match: RegExpExecArray | null;
    if (name === 'Plan') {
      handlers[name] = async (event) => {
        progress({ phase: 'plan' });
        const result = await plan(event as unknown as PlanEvent);
        rowsIn = result.rowsIn;
        progress(result.runtime === 'sagemaker' ? { phase: 'transform', rowsIn } : { phase: 'score', rowsIn, rowsDone: 0, rowsFailed: 0 });
        return result;
      };
    } else if ((match = /^Score batch (.+)$/.exec(name))) {
      const target = loaded.models.find((m) => m.entry.name === match![1]);
      if (!target) return;
      handlers[name] = async (event) => {
        pool ??= new ScoreWorkerPool({ modelDir: target.dir, card: target.card, bucket, mounts: store.mountList }, scorers);
        const batch = event as unknown as ScoreBatchEvent;
        const key = batch.Items?.[0]?.firstRow ?? -1;
        try {
          const result = await pool.run(batch);
          rowsDone += result.rows;
          rowsFailed.delete(key);
          return result;
        } catch (error) {
          // Its rows, should it fail for good (a retry that succeeds takes them back).
          rowsFailed.set(key, (batch.Items ?? []).reduce((n, item) => n + (Number(item.rows) || 0), 0));
          throw error;
        } finally {
          progress({ phase: 'score', rowsIn, rowsDone, rowsFailed: [...rowsFailed.values()].reduce((a, b) => a + b, 0) });
        }
      };
    } else if ((match = /^Transform (.+)$/.exec(name))) {
      const target = loaded.models.find((m) => m.entry.name === match![1]);
      if (!target) return;
      handlers[name] = localTransformJob({ store, model: () => (served ??= ServedModel.load(target.dir)) });
    } else if (/^Collect .+$/.test(name)) {
      handlers[name] = async (event) => collect(event as unknown as CollectEvent);
    } else if (name === 'Summarise') {
      handlers[name] = async (event) => {
        progress({ phase: 'summarise', rowsIn });
        return summarise(event as unknown as SummariseEvent);
      };
    } else if (/^Notify /.test(name)) {
      handlers[name] = (event) => {
        const publish = event as JsonObject;
        notifications.push({ subject: String(publish.Subject ?? ''), message: String(publish.Message ?? '') });
        return { MessageId: `local-${notifications.length}` };
      };
    }
  });
  // As in Lambda (lambdas/batch-*/index.ts): a step fails with its error's type and message, not its stack.
  const taskHandlers = Object.fromEntries(Object.entries(handlers).map(([name, h]) => {
    const task = options.wrapTask ? options.wrapTask(name, h) : h;
    return [name, withoutStackTrace(async (input: Json, context: TaskContext) => task(input, context))];
  }));

  let result;
  try {
    // The workers load the model while Plan reads the input (the pool is made the first time otherwise).
    if (handlers[`Score batch ${options.model}`]) pool = new ScoreWorkerPool({ modelDir: model.dir, card: model.card, bucket, mounts: store.mountList }, scorers);
    result = await runStateMachine(definition, request as unknown as Json, {
      taskHandlers,
      executionName: `local-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`,
      distributedMap: {
        itemReader: objectStoreItemReader(store),
        resultWriter: objectStoreResultWriter(store),
        // Two batches per scorer in flight keep each busy while it reads and writes the other's files.
        concurrency: (scorers.workers + 1) * 2,
      },
    });
  } finally {
    await pool?.close();
    if (served) await (await served).release();
  }
  const workKept = result.status !== 'SUCCEEDED' || options.keepWork === true;
  if (!workKept) rmSync(workDir, { recursive: true, force: true });
  const scoredBy = pool?.scored ?? { callingThread: 0, workers: 0 };
  if (result.status === 'SUCCEEDED') return { status: 'SUCCEEDED', summary: result.output as unknown as BatchSummary, notifications, workDir, workKept, scoredBy };
  return { status: 'FAILED', error: result.error, cause: result.cause, notifications, workDir, workKept, scoredBy };
}

export type { BatchPlan };
