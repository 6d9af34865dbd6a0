// The stage's data capture: one encrypted capture bucket for every model, and the path that fills it from the
// functions' logs. The inference function writes every answered prediction as a PredictionRecord line, and each
// sampled request as a CaptureRecord line, on stdout (no network call on the request path); the SageMaker proxy
// writes the prediction lines. A subscription filter on each function's log group (either marker) sends those
// lines to a Firehose delivery stream that decompresses the CloudWatch Logs records, extracts the messages,
// partitions them by kind, model and version (jq) and writes capture lines under
// lambda/model=<model>/version=<version>/<yyyy>/<MM>/<dd>/<HH>/ and prediction lines under
// predictions/model=<model>/version=<version>/<yyyy>/<MM>/<dd>/<HH>/. SageMaker models capture their inputs through
// their endpoint's own DataCaptureConfig into the same bucket (data-capture/; pass `bucket` to SagemakerModel). The
// drift monitor reads the captures, folding them into hour summaries under monitor/summaries/; the quality monitor
// reads the predictions. Captures, predictions and summaries expire after `retentionDays`.
import { Duration, RemovalPolicy, Size } from 'aws-cdk-lib';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as destinations from 'aws-cdk-lib/aws-logs-destinations';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { CAPTURE_MARKER, LAMBDA_CAPTURE_PREFIX, SAGEMAKER_CAPTURE_PREFIX } from '../../lambdas/core/monitoring/contracts';
import { PREDICTION_MARKER, GROUND_TRUTH_PREFIX, PREDICTIONS_PREFIX } from '../../lambdas/core/quality/contracts';
import { SUMMARIES_PREFIX } from '../../lambdas/core/monitoring/summaries/summary-keys';
import { RUNS_PREFIX } from '../../lambdas/core/monitoring/pipeline/types';
import { LOG_GROUP_REMOVAL_POLICY } from '../private/logs';
import { acknowledgeWildcards, nagResource } from '../private/nag';

/** Days the drift monitor's run files (monitor/runs/) are kept: long enough to look at a run that failed. */
export const MONITOR_RUN_FILES_DAYS = 3;

/** The subscription filter pattern that picks the capture and prediction lines out of a function's logs. */
export const CAPTURE_FILTER_PATTERN = `{ ($.${CAPTURE_MARKER} = 1) || ($.${PREDICTION_MARKER} = 1) }`;

/**
 * The jq queries of the dynamic partitioning keys: `kind` is the top folder, `predictions` for a prediction line and
 * `lambda` for a capture line (LAMBDA_CAPTURE_PREFIX and PREDICTIONS_PREFIX without their slash).
 */
export const CAPTURE_PARTITION_QUERIES = {
  kind: `(if .${PREDICTION_MARKER} == 1 then "${PREDICTIONS_PREFIX.slice(0, -1)}" else "${LAMBDA_CAPTURE_PREFIX.slice(0, -1)}" end)`,
  model: '.model',
  version: '.version',
} as const;

/**
 * Firehose's key prefix: capture lines in the drift monitor's LAMBDA_CAPTURE_PREFIX layout, prediction lines in the
 * quality monitor's PREDICTIONS_PREFIX layout, partitioned per UTC hour of arrival.
 */
export const CAPTURE_OUTPUT_PREFIX = '!{partitionKeyFromQuery:kind}/model=!{partitionKeyFromQuery:model}/version=!{partitionKeyFromQuery:version}/!{timestamp:yyyy/MM/dd/HH}/';

/** Where records Firehose could not deliver or partition go, by error type and hour. */
export const CAPTURE_ERROR_PREFIX = 'capture-errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/';

export interface CapturedFunction {
  /** The model the function serves (for the construct id). */
  readonly modelName: string;
  readonly function: lambda.Function;
  /** The function's log group, where its capture lines land. */
  readonly logGroup: logs.ILogGroup;
  /** Share of requests captured, percent (the function reads it as CAPTURE_PERCENT); 0 turns capture off. */
  readonly capturePercent: number;
}

export interface DataCaptureProps {
  /** Prefix of the physical names: `<project>-<stage>`. */
  readonly namePrefix: string;
  /**
   * Days captures are kept.
   * @default 30
   */
  readonly retentionDays?: number;
  /**
   * The Lambda models' functions to capture from.
   * @default - none (add them with addFunction)
   */
  readonly functions?: readonly CapturedFunction[];
  /**
   * What happens to the bucket and its key when the stack is deleted.
   * @default RemovalPolicy.RETAIN - captured requests are the evidence of what the model saw
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Bucket receiving the capture bucket's S3 server access logs (under capture/).
   * @default - no server access logs
   */
  readonly serverAccessLogsBucket?: s3.IBucket;
}

export class DataCapture extends Construct {
  /** The capture bucket: lambda/ and predictions/ (Firehose), data-capture/ (SageMaker endpoints), monitor/ (the drift monitor's state and hour summaries). */
  public readonly bucket: s3.Bucket;
  /** The customer managed key of the bucket (rotated yearly). */
  public readonly key: kms.Key;
  /** The delivery stream carrying the functions' capture and prediction lines from their logs to the bucket. */
  public readonly deliveryStream: firehose.DeliveryStream;
  /** Firehose's own delivery errors (a partition it could not write, a record it could not read). */
  public readonly errorLogGroup: logs.LogGroup;
  private readonly logsRole: iam.Role;

  constructor(scope: Construct, id: string, props: DataCaptureProps) {
    super(scope, id);
    const retentionDays = props.retentionDays ?? 30;
    if (!Number.isInteger(retentionDays) || retentionDays < 1) throw new Error(`retentionDays must be a whole number of days, 1 or more, received ${retentionDays}`);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.key = new kms.Key(this, 'Key', {
      description: `${props.namePrefix}: encrypts captured requests and answers (data capture for the drift monitor)`,
      enableKeyRotation: true,
      removalPolicy,
    });
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [
        { id: 'expire-lambda-captures', prefix: LAMBDA_CAPTURE_PREFIX, expiration: Duration.days(retentionDays) },
        { id: 'expire-sagemaker-captures', prefix: SAGEMAKER_CAPTURE_PREFIX, expiration: Duration.days(retentionDays) },
        { id: 'expire-predictions', prefix: PREDICTIONS_PREFIX, expiration: Duration.days(retentionDays) },
        // Labels sent back (the feedback function, or dropped by other systems): kept as long as their predictions.
        { id: 'expire-ground-truth', prefix: GROUND_TRUTH_PREFIX, expiration: Duration.days(retentionDays) },
        { id: 'expire-capture-errors', prefix: 'capture-errors/', expiration: Duration.days(retentionDays) },
        // The drift monitor deletes its hour summaries past its window; this catches those of versions no longer watched.
        { id: 'expire-monitor-summaries', prefix: SUMMARIES_PREFIX, expiration: Duration.days(retentionDays) },
        // The fan-out's run files (plan, items, partials, map results): nothing reads them after their run.
        { id: 'expire-monitor-runs', prefix: RUNS_PREFIX, expiration: Duration.days(MONITOR_RUN_FILES_DAYS) },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      removalPolicy,
      ...(props.serverAccessLogsBucket ? { serverAccessLogsBucket: props.serverAccessLogsBucket, serverAccessLogsPrefix: 'capture/' } : {}),
    });

    this.errorLogGroup = new logs.LogGroup(this, 'DeliveryErrors', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: LOG_GROUP_REMOVAL_POLICY });
    this.deliveryStream = new firehose.DeliveryStream(this, 'DeliveryStream', {
      deliveryStreamName: `${props.namePrefix}-capture`,
      // Encrypted at rest inside Firehose too (an AWS owned key: the records leave it for the CMK-encrypted bucket within minutes).
      encryption: firehose.StreamEncryption.awsOwnedKey(),
      destination: new firehose.S3Bucket(this.bucket, {
        encryptionKey: this.key,
        dataOutputPrefix: CAPTURE_OUTPUT_PREFIX,
        errorOutputPrefix: CAPTURE_ERROR_PREFIX,
        fileExtension: '.jsonl',
        compression: firehose.Compression.UNCOMPRESSED,
        // Dynamic partitioning buffers per partition: 64 MiB or 5 minutes, whichever comes first.
        bufferingInterval: Duration.minutes(5),
        bufferingSize: Size.mebibytes(64),
        dynamicPartitioning: { enabled: true },
        loggingConfig: new firehose.EnableLogging(this.errorLogGroup),
        processors: [
          // CloudWatch Logs sends gzipped batches of log events: unzip, keep each event's message (a CaptureRecord
          // or PredictionRecord line), take its kind, model and version for the prefix, and end each with a newline.
          new firehose.DecompressionProcessor({ compressionFormat: firehose.DecompressionProcessorCompressionFormat.GZIP }),
          new firehose.CloudWatchLogProcessor({ dataMessageExtraction: true }),
          firehose.MetadataExtractionProcessor.jq16({ ...CAPTURE_PARTITION_QUERIES }),
          new firehose.AppendDelimiterToRecordProcessor(),
        ],
      }),
    });
    // The S3 destination of the Firehose L2 grants its role CDK's grantReadWrite on the bucket and
    // grantEncryptDecrypt on the key, whatever role it is given: the action patterns are CDK's, the resources
    // this one bucket and key. Each is acknowledged here, on that role's policy alone.
    const destinationRole = this.deliveryStream.node.tryFindChild('S3 Destination Role');
    if (destinationRole) {
      const cdkGrant = (what: string) => `Firehose's S3 destination (CDK L2) grants ${what} on the capture bucket and its key only; Firehose writes, lists and cleans up the delivery's objects and multipart uploads there`;
      acknowledgeWildcards(destinationRole, [
        { finding: 'Action::s3:GetObject*', reason: cdkGrant('s3:GetObject* (GetObject and its Acl, Attributes, Tagging, Version... reads)') },
        { finding: 'Action::s3:GetBucket*', reason: cdkGrant('s3:GetBucket* (GetBucketLocation and the bucket configuration reads)') },
        { finding: 'Action::s3:List*', reason: cdkGrant('s3:List* (ListBucket, ListBucketMultipartUploads, ListMultipartUploadParts)') },
        { finding: 'Action::s3:DeleteObject*', reason: cdkGrant('s3:DeleteObject* (DeleteObject, DeleteObjectVersion, DeleteObjectTagging)') },
        { finding: 'Action::s3:Abort*', reason: cdkGrant('s3:Abort* (AbortMultipartUpload)') },
        { finding: 'Action::kms:GenerateDataKey*', reason: cdkGrant('kms:GenerateDataKey* (GenerateDataKey and its WithoutPlaintext and pair forms) on the capture key') },
        { finding: 'Action::kms:ReEncrypt*', reason: cdkGrant('kms:ReEncrypt* (ReEncryptFrom, ReEncryptTo) on the capture key') },
        { finding: nagResource(this, this.bucket.arnForObjects('*')), reason: cdkGrant('object access') },
      ]);
    }
    // CloudWatch Logs puts the subscription's records into the stream with this role.
    this.logsRole = new iam.Role(this, 'LogsRole', {
      assumedBy: new iam.ServicePrincipal('logs.amazonaws.com'),
      description: `${props.namePrefix}: lets CloudWatch Logs send capture lines to the capture delivery stream`,
    });
    for (const f of props.functions ?? []) this.addFunction(f);
  }

  /**
   * Captures a Lambda model's requests and records its predictions: sets its CAPTURE_PERCENT and subscribes its
   * log group to the stream (always: every prediction is recorded, whatever the capture share).
   */
  addFunction(captured: CapturedFunction): void {
    if (!(captured.capturePercent >= 0 && captured.capturePercent <= 100)) {
      throw new Error(`capturePercent of ${captured.modelName} must be between 0 and 100, received ${captured.capturePercent}`);
    }
    captured.function.addEnvironment('CAPTURE_PERCENT', String(captured.capturePercent));
    this.addLogGroup(captured.modelName, captured.logGroup);
  }

  /**
   * Sends a function's capture and prediction lines to the bucket: for a function that only records predictions,
   * such as a SageMaker model's proxy (its endpoint captures the inputs itself).
   */
  addLogGroup(modelName: string, logGroup: logs.ILogGroup): void {
    new logs.SubscriptionFilter(this, `Subscription${modelName.replace(/[^A-Za-z0-9]/g, '')}`, {
      logGroup,
      filterName: 'mlship-capture',
      filterPattern: logs.FilterPattern.literal(CAPTURE_FILTER_PATTERN),
      destination: new destinations.FirehoseDestination(this.deliveryStream, { role: this.logsRole }),
    });
  }
}
