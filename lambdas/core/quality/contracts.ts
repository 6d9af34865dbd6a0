// What the quality loop agrees on (issue 17): inference ids, the prediction record written for every answer,
// the label (ground-truth) record the feedback API and the bulk path write, where each lands, and the quality
// metrics. The serving path, the feedback function, the local gateway, the quality monitor and its alarms all
// take their names from here, so the cloud and the local runtime cannot drift apart.

/** Request and answer header naming a prediction: sent by the caller to choose it, else made by mlship. */
export const INFERENCE_ID_HEADER = 'x-inference-id';

/** Longest inference id, characters (a longer one is a 400 naming the header, or the feedback item's field). */
export const MAX_INFERENCE_ID_CHARS = 128;

/** A caller's inference id: 1 to 128 visible ASCII characters (no space, no control character). */
export const INFERENCE_ID_PATTERN = /^[\x21-\x7e]{1,128}$/;

/** The JSON key marking a prediction record line (the log subscription filter matches `{ $.mlshipPrediction = 1 }`). */
export const PREDICTION_MARKER = 'mlshipPrediction';

/**
 * What a model answered to one request, as one JSON line, for every request a model route answered 200
 * (not sampled: the quality monitor joins every label to its prediction). A request's instances are named by
 * (id, index); a request with many instances may be split over several lines of the same id, each holding
 * the instances [first, first + count). Written to stdout by the inference function (and the SageMaker
 * proxy), whose log subscription sends it through Firehose to the capture bucket; appended to local files by
 * the gateway.
 */
export interface PredictionRecord {
  readonly mlshipPrediction: 1;
  readonly model: string;
  /** The version that answered (during a SageMaker blue/green shift, the one the endpoint names). */
  readonly version: string;
  readonly id: string;
  /** ISO 8601 time the request was answered. */
  readonly time: string;
  /** Index of this line's first instance in the request. */
  readonly first: number;
  /** Instances in this line. */
  readonly count: number;
  /** Classifiers: the class labels, in the order of the probabilities (the card's labels). */
  readonly classes?: readonly string[];
  /** Classifiers: the predicted class index per instance. */
  readonly predicted?: readonly number[];
  /** Classifiers with probabilities: count x classes.length float32, little-endian, row-major, base64. */
  readonly probabilitiesFloat32?: string;
  /** Regressors: the predicted value per instance, float32 little-endian base64. */
  readonly valuesFloat32?: string;
}

/**
 * Key prefix of prediction records in the capture bucket and under `.mlship/capture/` locally:
 * `predictions/model=<model>/version=<version>/<yyyy>/<MM>/<dd>/<HH>/<file>` (UTC hour of arrival).
 */
export const PREDICTIONS_PREFIX = 'predictions/';

/**
 * Key prefix of labels (ground truth) in the capture bucket and under `.mlship/capture/` locally:
 * `ground-truth/<model>/<yyyy>/<MM>/<dd>/<HH>/<file>` by the UTC hour the label was received (as SageMaker
 * Model Monitor partitions ground truth). The feedback API writes `.jsonl` files of LabelRecord lines; other
 * systems may drop `.jsonl` files of the same lines or `.csv` files with the header `id,index,label` there.
 */
export const GROUND_TRUTH_PREFIX = 'ground-truth/';

/** One label: the truth for the instance `index` of the request `id`, as received. */
export interface LabelRecord {
  readonly id: string;
  /** The instance in the request, 0 for a single-instance request. */
  readonly index: number;
  /** Classifiers: the true class label (one of the card's labels). */
  readonly label?: string;
  /** Regressors: the true value. */
  readonly value?: number;
  /** ISO 8601 time the label was received (the label delay is this minus the prediction's time). */
  readonly time: string;
}

/** Most feedback items in one request (more gets 400 naming `feedback`). */
export const MAX_FEEDBACK_ITEMS = 1000;

/** CloudWatch namespace of the quality monitor's metrics (its role may put metrics in this namespace only). */
export const QUALITY_METRICS_NAMESPACE = 'mlship/quality';

/**
 * The quality monitor's metrics, per run, with dimensions { stage, model, version }. LabelledPredictions and
 * LabelCoverage always; the others only from `minLabels` labelled predictions (below it the figures are noise,
 * and the alarms see no data, which they treat as not breaching).
 */
export const QUALITY_METRICS = {
  labelled: 'LabelledPredictions',
  coverage: 'LabelCoverage',
  delayP50: 'LabelDelayP50Seconds',
  delayP95: 'LabelDelayP95Seconds',
  accuracy: 'Accuracy',
  macroF1: 'MacroF1',
  rocAuc: 'RocAuc',
  logLoss: 'LogLoss',
  /** Baseline (the model card's held-out figure) minus the live figure of the same metric, accuracy or R². */
  dropFromBaseline: 'DropFromBaseline',
  mae: 'Mae',
  rmse: 'Rmse',
  r2: 'R2',
} as const;
