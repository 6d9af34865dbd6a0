// Retraining on one machine: the retrain state machine taken from the synthesized stack (the very
// definition `cdk deploy` deploys) and run by the local runner, its Task states calling the same cores as
// the Lambda functions over local folders. The data bucket is a temporary folder holding, under
// training-data/<model>/, the data file given and the labelled production rows the local quality monitor left
// in <stateDir>/retrain-data/training-data/<model>/ (issue 17.4); the registry is the models folder, so a candidate that passes the gate
// lands in models/<model>/<version>/ as `mlship train` would write it (model.onnx, evaluation.json, background.json, then
// model.json last), and nothing is written otherwise.
// SNS publishes become alerts (.mlship/alerts.jsonl) and are handed to the caller to print; the candidate
// parameter goes to .mlship/parameters.json; the execution's work files (data.csv, rejects.jsonl,
// evaluation.json, the candidate) are kept in .mlship/retrain/<execution>/.
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { ManifestError, type LoadedManifest } from '../../lambdas/core/manifest/load';
import { RETRAIN_STATES, retrainStateMachineName, defaultDataPrefix } from '../../lib/retrain/retrain-pipeline';
import {
  evaluateEventSchema,
  gatherEventSchema,
  parseEvent,
  registerEventSchema,
  retrainSettingsSchema,
  trainEventSchema,
  workKeys,
  type Candidate,
  type EvaluationResult,
  type GatherResult,
  type Registered,
  type RetrainSettings,
} from '../../lambdas/core/retrain/contract';
import { evaluateCandidate } from '../../lambdas/core/retrain/evaluate';
import { gatherTrainingData } from '../../lambdas/core/retrain/gather';
import { registerCandidate, type ParameterStore } from '../../lambdas/core/retrain/register';
import { trainCandidate } from '../../lambdas/core/retrain/train-candidate';
import { withoutStackTrace } from '../../lambdas/core/pipelines/step-errors';
import { LocalAlerts, type AlertLevel } from '../release/alerts';
import { runStateMachine, type Json, type JsonObject, type TaskContext, type TaskHandler } from '../pipelines/runner';
import { stateMachineDefinition, synthesizeStackTemplate, type StackTemplate } from '../pipelines/stack-template';
import { FolderObjectStore } from '../storage/folder-object-store';
import { localRetrainDataDir } from './production-rows';

export interface LocalRetrainOptions {
  readonly loaded: LoadedManifest;
  readonly model: string;
  /**
   * The labelled CSV file (or .csv.gz) to retrain on, besides the labelled production rows in
   * <stateDir>/retrain-data/training-data/<model>/.
   * @default - the labelled production rows alone
   */
  readonly dataFile?: string;
  /**
   * The registry: a passing candidate is written to <modelsDir>/<model>/<version>/.
   * @default - the manifest's folder (where its model folders are)
   */
  readonly modelsDir?: string;
  /** @default '.mlship' in the working folder */
  readonly stateDir?: string;
  /** @default - the manifest's stage */
  readonly stage?: string;
  /** The synthesized template, when the caller already has it. @default - synthesized here */
  readonly template?: StackTemplate['template'];
  /** @default `local-<time>` */
  readonly executionName?: string;
  /** Each notification as it is published. */
  readonly onNotification?: (notification: LocalNotification) => void;
}

export interface LocalNotification {
  readonly state: string;
  readonly subject: string;
  readonly message: string;
}

export type LocalRetrainResult =
  | (Common & { readonly status: 'registered'; readonly evaluation: EvaluationResult; readonly registered: Registered; readonly dir: string })
  | (Common & { readonly status: 'rejected'; readonly evaluation: EvaluationResult })
  | (Common & { readonly status: 'failed'; readonly error: string; readonly cause: string; readonly step: string | undefined });

interface Common {
  readonly execution: string;
  readonly settings: RetrainSettings;
  readonly data?: GatherResult;
  readonly candidate?: Candidate;
  readonly notifications: readonly LocalNotification[];
  /** The execution's work files (data.csv, rejects.jsonl, evaluation.json, candidate/). */
  readonly workDir: string;
}

/** The candidate parameter locally: one JSON file of name -> value. */
export class LocalParameters implements ParameterStore {
  readonly file: string;
  constructor(stateDir: string) {
    this.file = join(stateDir, 'parameters.json');
  }
  read(): Record<string, string> {
    return existsSync(this.file) ? (JSON.parse(readFileSync(this.file, 'utf8')) as Record<string, string>) : {};
  }
  async put(name: string, value: string): Promise<void> {
    mkdirSync(dirname(this.file), { recursive: true });
    writeFileSync(this.file, `${JSON.stringify({ ...this.read(), [name]: value }, null, 2)}\n`);
  }
}

function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? path : rel;
}

function localExecutionName(): string {
  return `local-${new Date().toISOString().replace(/[-:.]/g, '')}`;
}

/** The model's constants from its `Settings <model>` state: which buckets the definition reads and writes. */
function settingsOf(definition: JsonObject, model: string): RetrainSettings {
  const states = definition.States as Record<string, JsonObject>;
  const state = states[RETRAIN_STATES.settings(model)];
  const parameters = state?.Parameters as JsonObject | undefined;
  if (!parameters) throw new Error(`the retrain state machine has no '${RETRAIN_STATES.settings(model)}' state; is ${model} retrained by this stack?`);
  return retrainSettingsSchema.parse(parameters.settings);
}

/** Runs the retrain state machine for one model over a local data file. */
export async function retrainLocally(options: LocalRetrainOptions): Promise<LocalRetrainResult> {
  const { loaded, model } = options;
  const entry = loaded.models.find((m) => m.entry.name === model);
  if (!entry) throw new ManifestError(loaded.file, [`no model '${model}' (the manifest names ${loaded.models.map((m) => m.entry.name).join(', ')})`]);
  if (!entry.entry.retrain) {
    throw new ManifestError(loaded.file, [
      `models[${entry.index}] (${model}) has no retrain block, so it is never retrained; add one, e.g. "retrain: { schedule: 'rate(7 days)', tolerance: 0.01 }"`,
    ]);
  }
  const dataFile = options.dataFile === undefined ? undefined : resolve(options.dataFile);
  if (dataFile !== undefined && (!existsSync(dataFile) || !statSync(dataFile).isFile())) throw new Error(`data file ${options.dataFile} not found`);
  const modelsDir = resolve(options.modelsDir ?? loaded.root);
  const stateDir = resolve(options.stateDir ?? '.mlship');
  const productionDir = join(localRetrainDataDir(stateDir), defaultDataPrefix(model));
  const productionFiles = existsSync(productionDir) ? readdirSync(productionDir).filter((name) => /\.csv(\.gz)?$/i.test(name)).sort() : [];
  if (dataFile === undefined && productionFiles.length === 0) {
    throw new Error(`no data to retrain ${model} on: give a labelled CSV file, or let the quality monitor write labelled production rows to ${shown(productionDir)}`);
  }
  const source = [
    ...(dataFile !== undefined ? [shown(dataFile)] : []),
    ...(productionFiles.length > 0 ? [`${productionFiles.length} labelled production file${productionFiles.length === 1 ? '' : 's'} in ${shown(productionDir)}`] : []),
  ].join(' and ');
  const execution = options.executionName ?? localExecutionName();

  const template = options.template ?? synthesizeStackTemplate(loaded, options.stage !== undefined ? { stage: options.stage } : {}).template;
  const machineName = retrainStateMachineName(loaded.manifest.project, options.stage ?? loaded.manifest.stage);
  const definition = stateMachineDefinition(template, machineName);
  const settings = settingsOf(definition, model);

  const bucketDir = mkdtempSync(join(tmpdir(), 'mlship-retrain-'));
  const workDir = join(stateDir, 'retrain', execution);
  const notifications: LocalNotification[] = [];
  try {
    mkdirSync(join(bucketDir, defaultDataPrefix(model)), { recursive: true });
    if (dataFile !== undefined) copyFileSync(dataFile, join(bucketDir, defaultDataPrefix(model), basename(dataFile)));
    for (const name of productionFiles) copyFileSync(join(productionDir, name), join(bucketDir, defaultDataPrefix(model), name));
    const store = new FolderObjectStore({ [settings.dataBucket]: bucketDir, [settings.registryBucket]: modelsDir });
    const liveCard = entry.card;
    const alerts = new LocalAlerts(stateDir, () => undefined);
    const publish = (state: string, level: AlertLevel, event: string): TaskHandler => (input) => {
      const { Subject, Message } = input as { Subject?: string; Message?: string };
      const notification = { state, subject: String(Subject ?? ''), message: String(Message ?? '') };
      notifications.push(notification);
      alerts.emit({ level, model, event, message: notification.subject, details: { subject: notification.subject, message: notification.message, execution } });
      options.onNotification?.(notification);
      return { MessageId: `local-${notifications.length}` };
    };
    const S = RETRAIN_STATES;
    const taskHandlers: Record<string, TaskHandler> = {
      [S.gather]: (event) => gatherTrainingData(parseEvent(gatherEventSchema, event, S.gather), { store, liveCard, describeSource: () => source }),
      [S.train]: (event) => trainCandidate(parseEvent(trainEventSchema, event, S.train), { store, liveCard }),
      [S.evaluate]: (event) => evaluateCandidate(parseEvent(evaluateEventSchema, event, S.evaluate), { store, liveCard, liveOnnx: readFileSync(entry.onnxPath) }),
      [S.register]: (event) =>
        registerCandidate(parseEvent(registerEventSchema, event, S.register), {
          store,
          parameters: new LocalParameters(stateDir),
          location: (_bucket, prefix) => `${shown(join(modelsDir, prefix))}/`,
          fetchCommand: () => undefined,
          manifestFile: shown(loaded.file),
        }),
      [S.notifyRegistered]: publish(S.notifyRegistered, 'info', 'retrain-registered'),
      [S.notifyRejected]: publish(S.notifyRejected, 'warning', 'retrain-rejected'),
      [S.notifyFailure]: publish(S.notifyFailure, 'critical', 'retrain-failed'),
    };
    // As in Lambda (lambdas/retrain/*.ts): a step fails with its error's type and message, not its stack.
    const handlers = Object.fromEntries(Object.entries(taskHandlers).map(([name, h]) => [name, withoutStackTrace(async (input: Json, context: TaskContext) => h(input, context))])) as Record<string, TaskHandler>;
    const result = await runStateMachine(definition, { model } as Json, { taskHandlers: handlers, executionName: execution });

    // Keep the execution's work files where the person can look at them.
    const work = join(bucketDir, workKeys(execution).prefix);
    if (existsSync(work)) {
      mkdirSync(dirname(workDir), { recursive: true });
      rmSync(workDir, { recursive: true, force: true });
      renameOrCopy(work, workDir);
    }
    if (result.status === 'FAILED') {
      const failure = notifications.find((n) => n.state === S.notifyFailure);
      const step = failure ? /failed at the step: ([^\n]*)/.exec(failure.message)?.[1] : undefined;
      return { status: 'failed', execution, settings, error: result.error, cause: result.cause, step, notifications, workDir };
    }
    const output = result.output as { data?: GatherResult; candidate?: Candidate; evaluation?: EvaluationResult; registered?: Registered };
    const common = { execution, settings, notifications, workDir, ...(output.data ? { data: output.data } : {}), ...(output.candidate ? { candidate: output.candidate } : {}) };
    if (output.registered) {
      return { ...common, status: 'registered', evaluation: output.evaluation!, registered: output.registered, dir: join(modelsDir, model, String(output.registered.version)) };
    }
    return { ...common, status: 'rejected', evaluation: output.evaluation! };
  } finally {
    rmSync(bucketDir, { recursive: true, force: true });
  }
}

/** Moves a folder (copying when it is on another file system, as a temp folder may be). */
function renameOrCopy(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch {
    cpSync(from, to, { recursive: true });
  }
}
