// The stage's CloudWatch dashboard `<project>-<stage>`: per model a row of traffic by version, latency
// percentiles, errors (4xx and 5xx), throttles and drift per feature, and the status of the model's alarms.
// Figures by version use SEARCH over the handler's EMF metrics, so a new version shows up without a deploy
// of the dashboard. With the quality monitor (issue 17), addQuality adds a row per model: accuracy (MAE and R² for
// regressors) and macro-F1 / ROC AUC by version with the alarms' threshold lines, the labelled predictions and the
// label coverage, and the label delay p50 / p95.
import { Aws, Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { API_LOG_METRICS_NAMESPACE, apiThrottlesMetricName, type AlarmTargets } from '../../lambdas/core/monitoring/alarms/alarm-catalog';
import { DRIFT_METRICS, DRIFT_METRICS_NAMESPACE } from '../../lambdas/core/monitoring/contracts';
import type { QualityAlarms } from '../../lambdas/core/manifest/schema';
import { QUALITY_METRICS, QUALITY_METRICS_NAMESPACE } from '../../lambdas/core/quality/contracts';

/** The console link of a dashboard. */
export function dashboardUrl(name: string, region: string = Aws.REGION): string {
  return `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards/dashboard/${name}`;
}

export interface DashboardModel {
  readonly name: string;
  readonly version: string | number;
  readonly runtime: 'lambda' | 'sagemaker';
  /** Where the model's metrics are (the same targets its alarm specs were made from). */
  readonly targets: AlarmTargets;
  /** The model's composite alarm first, then every alarm of the model. */
  readonly alarms: readonly cloudwatch.IAlarm[];
}

/** A model's quality row. */
export interface DashboardQualityModel {
  readonly name: string;
  readonly task: 'classification' | 'regression';
  /** The model's monitoring.quality.alarms: each threshold set is a line on its graph. */
  readonly thresholds: QualityAlarms;
  /**
   * Period of the graphs: the quality monitor's schedule interval (one figure a run).
   * @default Duration.hours(1)
   */
  readonly period?: Duration;
}

export interface MonitoringDashboardProps {
  /** `<project>-<stage>`. */
  readonly dashboardName: string;
  readonly stage: string;
  /**
   * The models shown; more with addModel.
   * @default - none yet
   */
  readonly models?: readonly DashboardModel[];
  /**
   * Period of the graphs.
   * @default Duration.minutes(5)
   */
  readonly period?: Duration;
}

const WIDTH = 8;
const HEIGHT = 6;
const quote = (value: string) => `"${value}"`;

export class MonitoringDashboard extends Construct {
  public readonly dashboard: cloudwatch.Dashboard;
  public readonly dashboardName: string;
  /** The console link of the dashboard (alerts link to it). */
  public readonly url: string;
  private readonly stage: string;
  private readonly period: Duration;

  constructor(scope: Construct, id: string, props: MonitoringDashboardProps) {
    super(scope, id);
    this.period = props.period ?? Duration.minutes(5);
    this.stage = props.stage;
    this.dashboardName = props.dashboardName;
    this.url = dashboardUrl(props.dashboardName);
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { dashboardName: props.dashboardName, defaultInterval: Duration.days(1) });
    for (const model of props.models ?? []) this.addModel(model);
  }

  /** A title row and two rows of widgets for one model. */
  public addModel(model: DashboardModel): void {
    const { period, stage } = this;
    const seconds = period.toSeconds();
    const t = model.targets;
    // The handler's EMF metrics of every version of the model.
    const byVersion = (metricName: string, label: string) =>
      new cloudwatch.MathExpression({
        expression: `SEARCH('{${t.metricsNamespace},service,model,version} MetricName=${quote(metricName)} service=${quote(t.metricsService)} model=${quote(model.name)}', 'Sum', ${seconds})`,
        usingMetrics: {},
        label,
        period,
      });
    const apiLatency = (statistic: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/ApiGateway',
        metricName: 'Latency',
        statistic,
        period,
        label: `API ${statistic}`,
        dimensionsMap: { ApiName: t.apiName, Stage: t.apiStage, Resource: `/v2/models/${model.name}/infer`, Method: 'POST' },
      });
    const latency: cloudwatch.IMetric[] = [apiLatency('p50'), apiLatency('p90'), apiLatency('p99')];
    const throttles: cloudwatch.IMetric[] = [
      // Counted from the API's access log (the throttles alarm's metric filter).
      new cloudwatch.Metric({ namespace: API_LOG_METRICS_NAMESPACE, metricName: apiThrottlesMetricName(t.project, t.stage, model.name), statistic: 'Sum', period, label: 'API 429s' }),
    ];
    if (model.runtime === 'lambda' && t.functionName) {
      const alias = { FunctionName: t.functionName, Resource: `${t.functionName}:live` };
      latency.push(new cloudwatch.Metric({ namespace: 'AWS/Lambda', metricName: 'Duration', statistic: 'p99', period, label: 'function p99', dimensionsMap: alias }));
      throttles.push(new cloudwatch.Metric({ namespace: 'AWS/Lambda', metricName: 'Throttles', statistic: 'Sum', period, label: 'Lambda throttles', dimensionsMap: alias }));
    } else if (t.endpointName) {
      latency.push(
        new cloudwatch.MathExpression({
          // ModelLatency is in microseconds.
          expression: 'modelLatency / 1000',
          usingMetrics: { modelLatency: new cloudwatch.Metric({ namespace: 'AWS/SageMaker', metricName: 'ModelLatency', statistic: 'p99', period, dimensionsMap: { EndpointName: t.endpointName, VariantName: t.variantName ?? 'AllTraffic' } }) },
          label: 'endpoint p99 (ModelLatency)',
          period,
        }),
      );
    }
    const drift = new cloudwatch.MathExpression({
      expression: `SEARCH('{${DRIFT_METRICS_NAMESPACE},feature,model,stage} MetricName=${quote(DRIFT_METRICS.featurePsi)} stage=${quote(stage)} model=${quote(model.name)}', 'Maximum', 3600)`,
      usingMetrics: {},
      label: 'PSI',
      period: Duration.hours(1),
    });

    this.dashboard.addWidgets(new cloudwatch.TextWidget({ markdown: `## ${model.name} v${model.version} (${model.runtime})`, width: 24, height: 1 }));
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: `${model.name}: traffic by version`, left: [byVersion('Requests', 'requests')], width: WIDTH, height: HEIGHT, stacked: true }),
      new cloudwatch.GraphWidget({ title: `${model.name}: latency percentiles (ms)`, left: latency, width: WIDTH, height: HEIGHT }),
      new cloudwatch.GraphWidget({ title: `${model.name}: errors (4xx, 5xx) by version`, left: [byVersion('ClientErrors', '4xx')], right: [byVersion('ServerErrors', '5xx')], width: WIDTH, height: HEIGHT }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: `${model.name}: throttles`, left: throttles, width: WIDTH, height: HEIGHT }),
      new cloudwatch.GraphWidget({
        title: `${model.name}: drift per feature (PSI)`,
        left: [drift],
        width: WIDTH,
        height: HEIGHT,
        period: Duration.hours(1),
      }),
      new cloudwatch.AlarmStatusWidget({ title: `${model.name}: alarms`, alarms: [...model.alarms], width: WIDTH, height: HEIGHT }),
    );
  }
  /**
   * A title row and a row of quality widgets for one model, every version of it (SEARCH over the quality monitor's
   * metrics, dimensions stage, model and version), with the alarms' thresholds as horizontal lines.
   */
  public addQuality(model: DashboardQualityModel): void {
    const period = model.period ?? Duration.hours(1);
    const seconds = period.toSeconds();
    const byVersion = (metricName: string, statistic: string, label: string) =>
      new cloudwatch.MathExpression({
        expression: `SEARCH('{${QUALITY_METRICS_NAMESPACE},model,stage,version} MetricName=${quote(metricName)} stage=${quote(this.stage)} model=${quote(model.name)}', '${statistic}', ${seconds})`,
        usingMetrics: {},
        label,
        period,
      });
    const line = (value: number | undefined, label: string): cloudwatch.HorizontalAnnotation[] => (value === undefined ? [] : [{ value, label, color: cloudwatch.Color.RED }]);
    const t = model.thresholds;
    const graph = (title: string, left: cloudwatch.IMetric[], props: Partial<cloudwatch.GraphWidgetProps> = {}) =>
      new cloudwatch.GraphWidget({ title: `${model.name}: ${title}`, left, width: 6, height: HEIGHT, period, ...props });
    const widgets: cloudwatch.IWidget[] =
      model.task === 'classification'
        ? [
            graph('accuracy by version', [byVersion(QUALITY_METRICS.accuracy, 'Minimum', 'accuracy')], {
              leftAnnotations: line(t.accuracyBelow, `alarm below ${t.accuracyBelow}`),
              right: [byVersion(QUALITY_METRICS.dropFromBaseline, 'Maximum', 'drop from held-out')],
              rightAnnotations: line(t.dropFromBaselineAbove, `alarm: drop above ${t.dropFromBaselineAbove}`),
              leftYAxis: { min: 0, max: 1 },
            }),
            graph('macro-F1 and ROC AUC by version', [byVersion(QUALITY_METRICS.macroF1, 'Minimum', 'macro-F1'), byVersion(QUALITY_METRICS.rocAuc, 'Minimum', 'ROC AUC')], {
              leftAnnotations: [...line(t.macroF1Below, `macro-F1 alarm below ${t.macroF1Below}`), ...line(t.rocAucBelow, `ROC AUC alarm below ${t.rocAucBelow}`)],
              leftYAxis: { min: 0, max: 1 },
            }),
          ]
        : [
            graph('MAE by version', [byVersion(QUALITY_METRICS.mae, 'Maximum', 'MAE'), byVersion(QUALITY_METRICS.rmse, 'Maximum', 'RMSE')], { leftAnnotations: line(t.maeAbove, `MAE alarm above ${t.maeAbove}`) }),
            graph('R² by version', [byVersion(QUALITY_METRICS.r2, 'Minimum', 'R²')], {
              leftAnnotations: line(t.r2Below, `alarm below ${t.r2Below}`),
              right: [byVersion(QUALITY_METRICS.dropFromBaseline, 'Maximum', 'drop from held-out')],
              rightAnnotations: line(t.dropFromBaselineAbove, `alarm: drop above ${t.dropFromBaselineAbove}`),
            }),
          ];
    widgets.push(
      graph('labelled predictions and label coverage', [byVersion(QUALITY_METRICS.labelled, 'Maximum', 'labelled')], {
        right: [byVersion(QUALITY_METRICS.coverage, 'Maximum', 'coverage')],
        rightYAxis: { min: 0, max: 1 },
      }),
      graph('label delay p50 / p95 (s)', [byVersion(QUALITY_METRICS.delayP50, 'Maximum', 'p50'), byVersion(QUALITY_METRICS.delayP95, 'Maximum', 'p95')]),
    );
    this.dashboard.addWidgets(new cloudwatch.TextWidget({ markdown: `### ${model.name}: quality (labels joined to predictions)`, width: 24, height: 1 }));
    this.dashboard.addWidgets(...widgets);
  }
}
