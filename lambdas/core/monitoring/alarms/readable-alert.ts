// The message a person on call reads: one subject line with the model, its version, the figure and its
// threshold, then the details, the runbook line and the dashboard. Made from an AlarmEvent, which comes
// from a CloudWatch alarm notification in the cloud (alarmEventFromCloudWatch) or from the local alarm
// evaluator and drift monitor; both paths end in readableAlert, so the text is the same everywhere.
import type { AlarmEvent, AlarmKind, AlarmState, ReadableAlert } from '../contracts';

/** SNS e-mail subjects are at most 100 characters. */
export const MAX_SUBJECT_LENGTH = 100;

const WHAT: Record<AlarmKind, string> = {
  'api-p99-latency': 'API p99 latency',
  'function-p99-latency': 'function p99 latency',
  'endpoint-p99-latency': 'endpoint p99 latency',
  'error-rate': 'error rate',
  throttles: 'throttled requests',
  'endpoint-5xx': 'endpoint 5xx errors',
  'gpu-utilization': 'GPU utilization',
  drift: 'drift',
  health: 'health',
  quality: 'quality',
};

/** What each alarm kind watches, as the subject names it. */
export function alarmKindLabel(kind: AlarmKind): string {
  return WHAT[kind];
}

/** A figure with its unit, rounded for reading: 812 ms, 2.35%, 14 requests. */
export function formatFigure(value: number, unit: string): string {
  const rounded = Math.abs(value) >= 100 ? Math.round(value) : Math.abs(value) >= 10 ? Math.round(value * 10) / 10 : Math.round(value * 100) / 100;
  if (unit === '%') return `${rounded}%`;
  return unit === '' ? String(rounded) : `${rounded} ${unit}`;
}

function clip(subject: string): string {
  return subject.length <= MAX_SUBJECT_LENGTH ? subject : `${subject.slice(0, MAX_SUBJECT_LENGTH - 3)}...`;
}

function subjectOf(event: AlarmEvent): string {
  const who = `${event.model} v${event.version}`;
  const what = event.metric ?? alarmKindLabel(event.kind);
  const hasFigure = event.value !== undefined && event.threshold !== undefined;
  const figure = hasFigure ? formatFigure(event.value!, event.unit) : undefined;
  const threshold = hasFigure ? formatFigure(event.threshold!, event.unit) : undefined;
  if (event.state === 'ALARM') {
    return clip(`[ALARM] ${who} ${what}${hasFigure ? ` ${figure} ${event.comparison ?? '>'} ${threshold}` : ''} (${event.stage})`);
  }
  if (event.state === 'OK') return clip(`[OK] ${who} ${what} back to normal${hasFigure ? `: ${figure}, threshold ${threshold}` : ''} (${event.stage})`);
  return clip(`[NO DATA] ${who} ${what}: not enough data to judge (${event.stage})`);
}

/** The alert for one state change: the subject, then model, version, figure, threshold, time, runbook, dashboard. */
export function readableAlert(event: AlarmEvent): ReadableAlert {
  const lines = [
    `Model:      ${event.model}`,
    `Version:    ${event.version}`,
    `Stage:      ${event.stage} (${event.project})`,
    `What:       ${event.metric ? `${alarmKindLabel(event.kind)}: ${event.metric}` : alarmKindLabel(event.kind)} is ${event.state}${event.previousState ? ` (was ${event.previousState})` : ''}`,
  ];
  if (event.value !== undefined) lines.push(`Figure:     ${formatFigure(event.value, event.unit)}`);
  if (event.threshold !== undefined) lines.push(`Threshold:  ${event.comparison ?? '>'} ${formatFigure(event.threshold, event.unit)}`);
  lines.push(`Time:       ${event.time}`, `Alarm:      ${event.alarmName}`);
  if (event.details && event.details.length > 0) lines.push('', ...event.details);
  lines.push('', event.state === 'OK' ? 'Recovered; nothing to do unless it flaps.' : `What to do: ${event.runbook}`);
  if (event.dashboardUrl) lines.push('', `Dashboard:  ${event.dashboardUrl}`);
  return { subject: subjectOf(event), body: `${lines.join('\n')}\n` };
}

// ---- CloudWatch alarm notifications (the JSON message SNS delivers) ----

/** The fields of a CloudWatch alarm notification this module reads (metric, metric-math and composite alarms). */
export interface CloudWatchAlarmMessage {
  readonly AlarmName?: unknown;
  readonly AlarmDescription?: unknown;
  readonly NewStateValue?: unknown;
  readonly OldStateValue?: unknown;
  readonly NewStateReason?: unknown;
  readonly StateChangeTime?: unknown;
  readonly Trigger?: { readonly MetricName?: unknown; readonly Threshold?: unknown; readonly ComparisonOperator?: unknown };
  readonly TriggeringChildren?: readonly { readonly Arn?: unknown; readonly State?: { readonly Value?: unknown } }[];
}

export interface AlarmContext {
  readonly project: string;
  readonly stage: string;
  /** Every model of the stage and the version it serves. */
  readonly models: Readonly<Record<string, string>>;
  readonly dashboardUrl?: string;
}

const COMPARISONS: Record<string, string> = {
  GreaterThanThreshold: '>',
  GreaterThanOrEqualToThreshold: '>=',
  LessThanThreshold: '<',
  LessThanOrEqualToThreshold: '<=',
};

/** Alarm names end in these kinds (`<project>-<stage>-<model>-<kind>`; see alarmName). */
const KIND_SUFFIXES: readonly AlarmKind[] = ['api-p99-latency', 'function-p99-latency', 'endpoint-p99-latency', 'error-rate', 'throttles', 'endpoint-5xx', 'gpu-utilization', 'drift', 'health', 'quality'];

/** The name of a model's alarm of one kind: `<project>-<stage>-<model>-<kind>`. */
export function alarmName(project: string, stage: string, model: string, kind: AlarmKind): string {
  return `${project}-${stage}-${model}-${kind}`;
}

/**
 * The quality alarms, one per threshold of monitoring.quality.alarms, are named
 * `<project>-<stage>-<model>-quality-<suffix>` (lib/quality/quality-monitor.ts): each suffix and the metric a
 * person reads in the alert.
 */
export const QUALITY_ALARM_METRICS = {
  accuracy: 'accuracy',
  'macro-f1': 'macro-F1',
  'roc-auc': 'ROC AUC',
  mae: 'MAE',
  r2: 'R²',
  'drop-from-baseline': 'drop from the held-out baseline',
} as const;

/** The model and kind an alarm name stands for (and, for a quality alarm, its metric), given the stage's models; undefined for another stack's alarm. */
export function parseAlarmName(name: string, context: AlarmContext): { model: string; kind: AlarmKind; metric?: string } | undefined {
  const prefix = `${context.project}-${context.stage}-`;
  if (!name.startsWith(prefix)) return undefined;
  const rest = name.slice(prefix.length);
  for (const [suffix, metric] of Object.entries(QUALITY_ALARM_METRICS)) {
    const ending = `-quality-${suffix}`;
    if (!rest.endsWith(ending)) continue;
    const model = rest.slice(0, -ending.length);
    if (model in context.models) return { model, kind: 'quality', metric };
  }
  const kind = KIND_SUFFIXES.find((k) => rest.endsWith(`-${k}`));
  if (!kind) return undefined;
  const model = rest.slice(0, -kind.length - 1);
  return model in context.models ? { model, kind } : undefined;
}

const UNITS: Record<AlarmKind, string> = {
  'api-p99-latency': 'ms',
  'function-p99-latency': 'ms',
  'endpoint-p99-latency': 'ms',
  'error-rate': '%',
  throttles: 'requests',
  'endpoint-5xx': 'errors',
  'gpu-utilization': '%',
  drift: '',
  health: '',
  quality: '',
};

function state(value: unknown): AlarmState | undefined {
  return value === 'ALARM' || value === 'OK' || value === 'INSUFFICIENT_DATA' ? value : undefined;
}

/** The first datapoint CloudWatch quotes in a state reason: "... datapoints [812.3 (22/11/26 10:00:00), ...] ...". */
function firstDatapoint(reason: string): number | undefined {
  const match = /\[(-?[\d.]+(?:E[-+]?\d+)?) \(/i.exec(reason);
  return match ? Number(match[1]) : undefined;
}

/** The alarm name inside an alarm ARN (`arn:aws:cloudwatch:<region>:<account>:alarm:<name>`). */
function nameFromArn(arn: unknown): string | undefined {
  return typeof arn === 'string' ? arn.slice(arn.indexOf(':alarm:') + ':alarm:'.length) : undefined;
}

/**
 * An AlarmEvent from the text of a CloudWatch alarm notification. For a composite alarm, the child that
 * triggered it names the kind; its figure comes from `childMessage` (what DescribeAlarms says of that
 * child, shaped like a notification), when given. Returns undefined for a message that is not a
 * CloudWatch alarm of this stage: the caller then forwards the raw text.
 */
export function alarmEventFromCloudWatch(text: string, context: AlarmContext, childMessage?: (alarmName: string) => CloudWatchAlarmMessage | undefined): AlarmEvent | undefined {
  let message: CloudWatchAlarmMessage;
  try {
    message = JSON.parse(text) as CloudWatchAlarmMessage;
  } catch {
    return undefined;
  }
  if (typeof message !== 'object' || message === null || typeof message.AlarmName !== 'string') return undefined;
  const parsed = parseAlarmName(message.AlarmName, context);
  const newState = state(message.NewStateValue);
  if (!parsed || !newState) return undefined;
  let source: CloudWatchAlarmMessage = message;
  let kind = parsed.kind;
  let metric = parsed.metric;
  let runbook = typeof message.AlarmDescription === 'string' ? message.AlarmDescription : '';
  const child = message.TriggeringChildren?.map((c) => nameFromArn(c.Arn)).find((n) => n !== undefined && parseAlarmName(n, context) !== undefined);
  if (child) {
    ({ kind, metric } = parseAlarmName(child, context)!);
    const described = childMessage?.(child);
    if (described) {
      source = described;
      if (typeof described.AlarmDescription === 'string') runbook = described.AlarmDescription;
    }
  }
  const trigger = source.Trigger;
  // SageMaker's ModelLatency is in microseconds; people read milliseconds.
  const scale = trigger?.MetricName === 'ModelLatency' ? 1 / 1000 : 1;
  const rawValue = typeof source.NewStateReason === 'string' ? firstDatapoint(source.NewStateReason) : undefined;
  const rawThreshold = typeof trigger?.Threshold === 'number' ? trigger.Threshold : undefined;
  const comparison = typeof trigger?.ComparisonOperator === 'string' ? COMPARISONS[trigger.ComparisonOperator] : undefined;
  return {
    state: newState,
    ...(state(message.OldStateValue) ? { previousState: state(message.OldStateValue)! } : {}),
    kind,
    ...(metric ? { metric } : {}),
    alarmName: child ?? message.AlarmName,
    project: context.project,
    stage: context.stage,
    model: parsed.model,
    version: context.models[parsed.model]!,
    ...(rawValue !== undefined && Number.isFinite(rawValue) ? { value: rawValue * scale } : {}),
    ...(rawThreshold !== undefined ? { threshold: rawThreshold * scale } : {}),
    ...(comparison ? { comparison } : {}),
    unit: UNITS[kind],
    time: typeof message.StateChangeTime === 'string' ? message.StateChangeTime : new Date().toISOString(),
    runbook: runbook || 'see the dashboard',
    ...(context.dashboardUrl ? { dashboardUrl: context.dashboardUrl } : {}),
  };
}

/** The alert for a message that is not a CloudWatch alarm of this stage: its raw text, never dropped. */
export function rawAlert(text: string, stage: string): ReadableAlert {
  return { subject: clip(`[mlship ${stage}] notification`), body: `${text}\n` };
}
