// What the monitoring pieces agree on: the captured-request record and where it lands, the drift metrics the
// monitor publishes, and the readable alert every alarm becomes. The capture path (inference handler, local
// gateway, SageMaker endpoint capture), the drift monitor, the alarms and the alert formatter all take their
// names from here, so the cloud and the local runtime cannot drift apart.

/** The JSON key that marks a captured-request log line (the subscription filter matches `{ $.mlshipCapture = 1 }`). */
export const CAPTURE_MARKER = 'mlshipCapture';

/**
 * One captured request of a Lambda model, as one JSON line: written to stdout by the inference function (a
 * CloudWatch Logs subscription sends it through Firehose to the capture bucket) and appended to local files by
 * the gateway. A request with many instances may be split over several records of the same requestId, so a
 * line stays under CloudWatch Logs' 256 KB event limit.
 */
export interface CaptureRecord {
  readonly mlshipCapture: 1;
  readonly model: string;
  readonly version: string;
  /** ISO 8601 time the request was answered. */
  readonly time: string;
  readonly requestId?: string;
  /** The request's inference id (x-inference-id), to join a captured instance to its label; absent in older lines. */
  readonly id?: string;
  /** Index in the request of this line's first instance (with `id`; a request may be split over lines). */
  readonly first?: number;
  /** The share of requests captured when this one was, percent (to scale counts back to traffic). */
  readonly capturePercent: number;
  /**
   * The instances as the model saw them, in the card's feature order: `inputsFloat32` is what the inference
   * function writes (the float32 values, little-endian, row-major, base64; `width` values per instance), as
   * it costs the request no number formatting; `inputs` (one array per instance) is read too.
   */
  readonly inputsFloat32?: string;
  readonly width?: number;
  readonly inputs?: number[][];
  /** The predicted class label per instance (classifiers). */
  readonly labels?: string[];
  /** The predicted value per instance (regressors): float32 little-endian base64 as written, or numbers. */
  readonly valuesFloat32?: string;
  readonly values?: number[];
}

/**
 * Key prefix of Lambda captures in the capture bucket and under `.mlship/capture/` locally:
 * `lambda/model=<model>/version=<version>/<yyyy>/<MM>/<dd>/<HH>/<file>` (UTC hour of arrival).
 */
export const LAMBDA_CAPTURE_PREFIX = 'lambda/';

/**
 * Key prefix of SageMaker endpoint captures (the endpoint's own DataCaptureConfig; SageMaker adds
 * `<endpoint>/<variant>/<yyyy>/<mm>/<dd>/<hh>/<file>.jsonl`). Equal to lib/sagemaker/sagemaker-model.ts DATA_CAPTURE_PREFIX.
 */
export const SAGEMAKER_CAPTURE_PREFIX = 'data-capture/';

/** CloudWatch namespace of the drift monitor's metrics (its role may put metrics in this namespace only). */
export const DRIFT_METRICS_NAMESPACE = 'mlship/drift';

/**
 * The drift monitor's metrics, per run, with dimensions { stage, model } (and { stage, model, feature } for
 * the Feature* ones). DriftDetected is 1 when the verdict is drift, 0 when not; nothing is published for
 * "not enough data" (the alarm treats missing data as not breaching). The drift alarm is DriftDetected >= 1.
 */
export const DRIFT_METRICS = {
  detected: 'DriftDetected',
  /** Share of the model's features that drift, 0 .. 1. */
  share: 'DriftShare',
  rows: 'CapturedRows',
  maxPsi: 'MaxFeaturePsi',
  predictionJs: 'PredictionJsDistance',
  featurePsi: 'FeaturePsi',
  featureKs: 'FeatureKsStatistic',
  featureKsP: 'FeatureKsPValue',
  featureJs: 'FeatureJsDistance',
} as const;

/** What an alarm watches, for the subject line and the runbook. */
export type AlarmKind = 'api-p99-latency' | 'function-p99-latency' | 'endpoint-p99-latency' | 'error-rate' | 'throttles' | 'endpoint-5xx' | 'gpu-utilization' | 'drift' | 'health' | 'quality';

export type AlarmState = 'ALARM' | 'OK' | 'INSUFFICIENT_DATA';

/**
 * One alarm state change, whatever raised it (a CloudWatch alarm notification in the cloud, the local alarm
 * evaluator or drift monitor locally): everything the readable alert needs.
 */
export interface AlarmEvent {
  readonly state: AlarmState;
  readonly previousState?: AlarmState;
  readonly kind: AlarmKind;
  readonly alarmName: string;
  readonly project: string;
  readonly stage: string;
  readonly model: string;
  readonly version: string;
  /** The figure's name when the kind watches several (quality: 'accuracy', 'macro-F1', 'MAE'): the subject names it instead of the kind. */
  readonly metric?: string;
  /** The figure that crossed the threshold, in `unit` (e.g. 812 for 812 ms); undefined when unknown. */
  readonly value?: number;
  readonly threshold?: number;
  /** '>' '>=' '<' '<='. */
  readonly comparison?: string;
  /** 'ms', '%', 'requests', ''. */
  readonly unit: string;
  /** ISO 8601 time of the state change. */
  readonly time: string;
  /** What it means and what to do first: the alarm's description. */
  readonly runbook: string;
  /** Extra lines for the body, e.g. the drifting features with their figures. */
  readonly details?: readonly string[];
  readonly dashboardUrl?: string;
}

/** The message a person reads: subject like `[ALARM] breast-cancer v3 p99 latency 812 ms > 300 ms (prod)`, then the body. */
export interface ReadableAlert {
  readonly subject: string;
  readonly body: string;
}
