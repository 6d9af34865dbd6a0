// The stage's CloudWatch dashboard `<project>-<stage>`: per model a row of traffic by version, latency
// percentiles, errors (4xx and 5xx), throttles and drift per feature, and the status of the model's alarms.
// Figures by version use SEARCH over the handler's EMF metrics, so a new version shows up without a deploy
// of the dashboard.
import { Aws, Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { API_LOG_METRICS_NAMESPACE, apiThrottlesMetricName, type AlarmTargets } from '../../lambdas/core/monitoring/alarms/alarm-catalog';
import { DRIFT_METRICS, DRIFT_METRICS_NAMESPACE } from '../../lambdas/core/monitoring/contracts';

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
}
