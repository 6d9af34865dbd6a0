// The drift monitor's state machine run locally: the definition taken from the synthesized stack, run by the
// local runner over a capture folder (the capture bucket's keys under it). Every Task state runs the code its
// function runs: the plan and fold handlers of lambdas/core/monitoring/pipeline, and the monitor function's own
// handler (lambdas/drift-monitor/handler.ts) for Monitor and Merge, configured from the environment the template
// gives that function, with CloudWatch and SNS stood in for by lists of what would have been sent. The Distributed
// Map reads its items and writes its results in the same folder.
import type { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import type { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { Logger } from '@aws-lambda-powertools/logger';
import type { LoadedManifest } from '../../lambdas/core/manifest/load';
import { createFoldHandler, createPlanHandler, type PlanEvent } from '../../lambdas/core/monitoring/pipeline/handlers';
import type { FoldShareEvent } from '../../lambdas/core/monitoring/pipeline/types';
import type { MonitoredModel } from '../../lambdas/core/monitoring/monitor/drift-monitor';
import type { ObjectStore } from '../../lambdas/core/storage/object-store';
import { readDriftMonitorConfig } from '../../lambdas/drift-monitor/config';
import { createDriftMonitorHandler, type ScheduledEvent } from '../../lambdas/drift-monitor/handler';
import { driftMonitorName } from '../../lib/monitoring/drift-monitor';
import { forEachState } from './checks';
import { objectStoreItemReader, objectStoreResultWriter } from './object-store-io';
import { runStateMachine, type ExecutionResult, type Json, type TaskHandler } from './runner';
import { stateMachineDefinition, synthesizeStackTemplate, type StackTemplate } from './stack-template';

/** The local capture bucket's name (the definition's capture bucket reference resolves to it). */
export const LOCAL_CAPTURE_BUCKET = 'mlship-local-capture';

export interface LocalDriftMonitorOptions {
  readonly loaded: LoadedManifest;
  /** The synthesized template (several runs from one synth); synthesized when left out. */
  readonly template?: StackTemplate;
  /** The capture bucket, locally (a FolderObjectStore over the capture folder, for instance). */
  readonly store: ObjectStore;
  /** The scheduled time: the window ends there. */
  readonly time: Date;
  /** The plan's settings. @default - the plan function's, from the template */
  readonly fanOutAboveBytes?: number;
  readonly shareBytes?: number;
  readonly executionName?: string;
  /** Wraps a Task state's local handler (tests: a child that fails once, then is retried). */
  readonly wrapTask?: (stateName: string, handler: TaskHandler) => TaskHandler;
}

export interface LocalDriftMonitorResult {
  readonly execution: ExecutionResult;
  /** What the Task states were called, in order (state names). */
  readonly steps: readonly string[];
  /** PutMetricData inputs, and SNS messages (the drift reports and failure notices). */
  readonly metrics: readonly { readonly Namespace?: string; readonly MetricData?: readonly { MetricName?: string; Dimensions?: readonly { Name?: string; Value?: string }[]; Value?: number }[] }[];
  readonly notifications: readonly { readonly subject: string; readonly message: string }[];
}

type Template = StackTemplate['template'];

/** The environment the template gives the function whose description starts as `description` does (its literal values). */
function functionEnvironment(template: Template, description: RegExp): Record<string, string> {
  const fn = Object.values(template.Resources).find((r) => r.Type === 'AWS::Lambda::Function' && description.test(String(r.Properties?.Description)));
  if (!fn) throw new Error(`the stack has no function described ${description}`);
  const variables = ((fn.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {}) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(variables).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

/** The logical id of the stack's capture bucket (the `CaptureBucketName` output's Ref). */
function captureBucketId(template: Template): string {
  const value = (template.Outputs as Record<string, { Value?: { Ref?: string } }> | undefined)?.CaptureBucketName?.Value?.Ref;
  if (typeof value !== 'string') throw new Error('the stack has no CaptureBucketName output naming its capture bucket');
  return value;
}

/** Runs one execution of the drift monitor's state machine locally. */
export async function runLocalDriftMonitor(options: LocalDriftMonitorOptions): Promise<LocalDriftMonitorResult> {
  const { loaded, store } = options;
  const stack = options.template ?? synthesizeStackTemplate(loaded);
  const name = driftMonitorName(loaded.manifest.project, stack.stage);
  const definition = stateMachineDefinition(stack.template, name, { [captureBucketId(stack.template)]: { Ref: LOCAL_CAPTURE_BUCKET, Arn: `arn:aws:s3:::${LOCAL_CAPTURE_BUCKET}` } });
  const bucket = LOCAL_CAPTURE_BUCKET;

  // The monitor function's settings as deployed (models, versions, thresholds, window), with the local bucket and topic.
  const config = readDriftMonitorConfig({ ...functionEnvironment(stack.template, new RegExp(`^${name}: compares`)), CAPTURE_BUCKET: bucket, TOPIC_ARN: `arn:aws:sns:local:000000000000:${name}` });
  const planSettings = functionEnvironment(stack.template, new RegExp(`^${name}: finds what arrived`));
  const cards = new Map(loaded.models.map((m) => [m.entry.name, m.card]));
  const card = (model: string) => {
    const found = cards.get(model);
    if (!found) throw new Error(`the manifest has no model '${model}'`);
    return found;
  };
  const models: MonitoredModel[] = config.models.map((m) => ({ ...m, card: card(m.name) }));
  const metrics: LocalDriftMonitorResult['metrics'][number][] = [];
  const notifications: { subject: string; message: string }[] = [];
  const monitor = createDriftMonitorHandler({
    config,
    store,
    cloudWatch: { send: async (command: PutMetricDataCommand) => void metrics.push(command.input) } as unknown as CloudWatchClient,
    sns: { send: async (command: PublishCommand) => void notifications.push({ subject: command.input.Subject ?? '', message: command.input.Message ?? '' }) } as unknown as SNSClient,
    logger: new Logger({ serviceName: name, logLevel: 'SILENT' }),
    card,
  });
  const plan = createPlanHandler({
    store,
    bucket,
    models,
    windowHours: config.windowHours,
    fanOutAboveBytes: options.fanOutAboveBytes ?? Number(planSettings.FAN_OUT_ABOVE_BYTES),
    shareBytes: options.shareBytes ?? Number(planSettings.SHARE_BYTES),
  });
  const fold = createFoldHandler({ store, bucket, models });

  const steps: string[] = [];
  const handlers: Record<string, TaskHandler> = {};
  const wrap = options.wrapTask ?? ((_: string, handler: TaskHandler) => handler);
  forEachState(definition, (state, body) => {
    if (body.Type !== 'Task') return;
    let handler: TaskHandler | undefined;
    if (state === 'Plan') handler = async (event) => plan(event as unknown as PlanEvent);
    else if (state === 'Fold share') handler = async (event) => fold(event as unknown as FoldShareEvent);
    else if (state === 'Monitor' || state === 'Merge') handler = async (event) => monitor(event as unknown as ScheduledEvent);
    else if (state === 'Notify failure') {
      handler = (event) => {
        const input = event as { Subject?: string; Message?: string };
        notifications.push({ subject: input.Subject ?? '', message: input.Message ?? '' });
        return { MessageId: 'local' };
      };
    }
    if (!handler) return;
    const wrapped = wrap(state, handler);
    handlers[state] = async (input, context) => {
      steps.push(state);
      return wrapped(input, context);
    };
  });
  const execution = await runStateMachine(definition, { time: options.time.toISOString() } as Json, {
    taskHandlers: handlers,
    distributedMap: { itemReader: objectStoreItemReader(store), resultWriter: objectStoreResultWriter(store), concurrency: 4 },
    ...(options.executionName ? { executionName: options.executionName } : {}),
  });
  return { execution, steps, metrics, notifications };
}
