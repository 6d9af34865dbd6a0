// A model's monitoring alarms in CloudWatch, made from the alarm catalog's specs (the same specs the local
// runtime evaluates): one metric or metric-math alarm per spec, with the spec's threshold, period,
// evaluation periods and runbook line as its description, and one composite alarm of the model's serving
// health (any serving alarm in ALARM). Only the composite notifies, on ALARM and on OK, so one incident is
// one message; the drift alarm stays out of it and has no action: its one message is the drift monitor's
// report, and it drives the retrain rule and the dashboard. The model's quality alarms (lib/quality/), made by the
// quality monitor, join the composite when given (compositeAlsoOf): a model that answers wrongly is unhealthy.
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { AlarmSpec } from '../../lambdas/core/monitoring/alarms/alarm-catalog';
import type { AlarmKind } from '../../lambdas/core/monitoring/contracts';

const COMPARISONS: Record<AlarmSpec['comparison'], cloudwatch.ComparisonOperator> = {
  '>': cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
  '>=': cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
};

const MISSING_DATA: Record<AlarmSpec['treatMissingData'], cloudwatch.TreatMissingData> = {
  notBreaching: cloudwatch.TreatMissingData.NOT_BREACHING,
};

export interface ModelAlarmsProps {
  /** The model's name, as in the manifest. */
  readonly modelName: string;
  /** Every alarm of the model: modelAlarmSpecs(targets, entry). */
  readonly specs: readonly AlarmSpec[];
  /** The composite alarm's name: compositeAlarmName(project, stage, model). */
  readonly compositeName: string;
  /** The stage's alarm topic: the composite alarm notifies it on ALARM and on OK. */
  readonly alarmTopic: sns.ITopic;
  /** The API's JSON access log: metrics no service publishes (API 429s) are counted from it by metric filters. */
  readonly apiAccessLogs?: logs.ILogGroup;
  /**
   * Alarms made elsewhere that join the composite too: the model's quality alarms (lib/quality/quality-monitor.ts).
   * @default - none
   */
  readonly compositeAlsoOf?: readonly cloudwatch.IAlarm[];
}

/** The CloudWatch metric (or metric math) a spec watches, with the spec's period. */
export function specMetric(spec: AlarmSpec): cloudwatch.IMetric {
  const period = Duration.minutes(spec.periodMinutes);
  const metrics = Object.fromEntries(
    Object.entries(spec.metrics).map(([id, ref]) => [id, new cloudwatch.Metric({ namespace: ref.namespace, metricName: ref.metricName, statistic: ref.statistic, dimensionsMap: { ...ref.dimensions }, period })]),
  );
  const label = `${spec.model} ${spec.kind}${spec.unit ? ` (${spec.unit})` : ''}`;
  if (spec.expression !== undefined) return new cloudwatch.MathExpression({ expression: spec.expression, usingMetrics: metrics, period, label });
  const only = Object.values(metrics);
  if (only.length !== 1) throw new Error(`alarm ${spec.name}: a spec without an expression watches exactly one metric, it has ${only.length}`);
  return only[0]!.with({ label });
}

export class ModelAlarms extends Construct {
  /** Every alarm of the model, by kind. */
  public readonly alarms: ReadonlyMap<AlarmKind, cloudwatch.Alarm>;
  /** The model's serving health: any serving alarm in ALARM. Notifies the alarm topic on ALARM and OK. */
  public readonly composite: cloudwatch.CompositeAlarm;
  /** DriftDetected >= 1; no action (the drift monitor sends the report; the retrain rule listens). */
  public readonly driftAlarm?: cloudwatch.Alarm;
  /** The metric filters over the API's access log that count what the alarms read (API 429s). */
  public readonly metricFilters: readonly logs.MetricFilter[];

  constructor(scope: Construct, id: string, props: ModelAlarmsProps) {
    super(scope, id);
    const alarms = new Map<AlarmKind, cloudwatch.Alarm>();
    const filters: logs.MetricFilter[] = [];
    const pascal = (text: string) => text.replace(/(^|-)([a-z0-9])/g, (_m, _d: string, c: string) => c.toUpperCase());
    for (const spec of props.specs) {
      if (spec.model !== props.modelName) throw new Error(`alarm ${spec.name} is of model ${spec.model}, not ${props.modelName}`);
      for (const [metricId, ref] of Object.entries(spec.metrics)) {
        if (ref.accessLogFilter === undefined) continue;
        if (!props.apiAccessLogs) throw new Error(`alarm ${spec.name} counts ${ref.metricName} from the API's access log: pass apiAccessLogs`);
        filters.push(
          new logs.MetricFilter(this, `${pascal(spec.kind)}${pascal(metricId)}Filter`, {
            logGroup: props.apiAccessLogs,
            filterPattern: logs.FilterPattern.literal(ref.accessLogFilter),
            metricNamespace: ref.namespace,
            metricName: ref.metricName,
            metricValue: '1',
          }),
        );
      }
      const alarm = new cloudwatch.Alarm(this, `${pascal(spec.kind)}Alarm`, {
        alarmName: spec.name,
        alarmDescription: spec.runbook,
        metric: specMetric(spec),
        threshold: spec.threshold,
        comparisonOperator: COMPARISONS[spec.comparison],
        evaluationPeriods: spec.evaluationPeriods,
        datapointsToAlarm: spec.datapointsToAlarm,
        treatMissingData: MISSING_DATA[spec.treatMissingData],
      });
      alarms.set(spec.kind, alarm);
    }
    this.alarms = alarms;
    this.metricFilters = filters;
    this.driftAlarm = alarms.get('drift');

    const serving = props.specs.filter((s) => s.inComposite).map((s) => alarms.get(s.kind)!);
    if (serving.length === 0) throw new Error(`model ${props.modelName} has no serving alarm to compose`);
    const also = props.compositeAlsoOf ?? [];
    this.composite = new cloudwatch.CompositeAlarm(this, 'HealthAlarm', {
      compositeAlarmName: props.compositeName,
      alarmDescription: `${props.modelName} is unhealthy: one of its serving alarms (${props.specs.filter((s) => s.inComposite).map((s) => s.kind).join(', ')})${also.length > 0 ? ` or one of its ${also.length} quality alarms` : ''} is in ALARM. The alert names the one that fired, with its figure and what to do first.`,
      alarmRule: cloudwatch.AlarmRule.anyOf(...[...serving, ...also].map((a) => cloudwatch.AlarmRule.fromAlarm(a, cloudwatch.AlarmState.ALARM))),
    });
    const action = new actions.SnsAction(props.alarmTopic);
    this.composite.addAlarmAction(action);
    this.composite.addOkAction(action);
  }
}
