// The cloud half of the feedback API (issue 17.2): a small function behind POST /v1/models/<name>/feedback (the
// InferenceApi routes every model's feedback route to it, with the model routes' authorization), the ledger table
// it counts duplicates with, and its log group. It writes each request's labels as one object under
// ground-truth/ of the capture bucket, encrypted by the bucket's default SSE-KMS with the bucket's key, where
// the quality monitor's joiner reads them (and the labels other systems drop there). Its role may put objects
// under ground-truth/ only, generate data keys with the bucket key only, put items in its table only, and write
// its own logs; nothing else.
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { GROUND_TRUTH_PREFIX } from '../../lambdas/core/quality/contracts';
import type { FeedbackTarget } from '../../lambdas/core/quality/feedback/validate';
import { bundleEntry, PROJECT_ROOT } from '../private/bundle';
import { functionRole, grantKey } from '../private/grants';
import { LOG_GROUP_REMOVAL_POLICY } from '../private/logs';
import { boundedName } from '../private/names';
import { acknowledgeWildcards, nagResource } from '../private/nag';
import { acknowledgeRuntime, ZIP_FUNCTION_RUNTIME } from '../private/runtime';
import { stagingDir } from '../private/staging';

/** The feedback function's entry point (exports `handler`). */
export const DEFAULT_FEEDBACK_ENTRY = join(PROJECT_ROOT, 'lambdas', 'feedback', 'index.ts');

/** Lambda's limit on all environment variables of a function together, bytes. */
const MAX_ENVIRONMENT_BYTES = 4096;

export interface FeedbackApiProps {
  /** `<project>-<stage>`: names the function. */
  readonly namePrefix: string;
  /** The capture bucket the labels go to (under ground-truth/). */
  readonly bucket: s3.IBucket;
  /** The capture bucket's key: the labels are encrypted with it (the bucket's default encryption). */
  readonly bucketKey: kms.IKey;
  /** Every model whose feedback route this function answers: its name, task, classes and maxBatchSize. */
  readonly models: readonly FeedbackTarget[];
  /**
   * Days a ledger entry lives: the capture retention, past which a label has no prediction left to join.
   * @default 30
   */
  readonly retentionDays?: number;
  /**
   * Longest request body, bytes (the manifest's api.maxBodyBytes).
   * @default 6291456 (Lambda's own limit on a request payload)
   */
  readonly maxBodyBytes?: number;
  /**
   * TypeScript entry of the function, exporting `handler`.
   * @default - lambdas/feedback/index.ts
   */
  readonly entry?: string;
  /**
   * How long the function's logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the ledger table when the stack is deleted.
   * @default RemovalPolicy.DESTROY - the ledger only counts duplicates; the labels themselves are in the bucket
   */
  readonly ledgerRemovalPolicy?: RemovalPolicy;
}

/** The function's code: its handler bundled by esbuild (CommonJS, AWS SDK included) into a staged folder. */
export function feedbackCode(entry = DEFAULT_FEEDBACK_ENTRY): lambda.Code {
  const bundle = bundleEntry(resolve(entry), { propName: 'entry', purpose: 'the feedback handler must exist to build its function' });
  const dir = stagingDir('mlship-feedback-');
  writeFileSync(join(dir, 'package.json'), '{ "private": true, "type": "commonjs" }\n');
  writeFileSync(join(dir, 'index.js'), bundle.js);
  writeFileSync(join(dir, 'index.js.map'), bundle.map);
  return lambda.Code.fromAsset(dir);
}

export class FeedbackApi extends Construct {
  /** The function the InferenceApi integrates every feedback route with (`feedbackHandler`). */
  public readonly function: lambda.Function;
  public readonly role: iam.Role;
  public readonly logGroup: logs.LogGroup;
  /** The (model, id, index) already labelled, each entry expiring after retentionDays. */
  public readonly ledger: dynamodb.TableV2;

  constructor(scope: Construct, id: string, props: FeedbackApiProps) {
    super(scope, id);
    const retentionDays = props.retentionDays ?? 30;
    const maxBodyBytes = props.maxBodyBytes ?? 6 * 1024 * 1024;
    if (!Number.isInteger(retentionDays) || retentionDays < 1) throw new Error(`retentionDays must be a whole number of days, 1 or more, received ${retentionDays}`);
    if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1) throw new Error(`maxBodyBytes must be a whole number of bytes, 1 or more, received ${maxBodyBytes}`);
    if (props.models.length === 0) throw new Error('models must name at least one model, received none');
    const seen = new Set<string>();
    props.models.forEach((model, index) => {
      if (seen.has(model.model)) throw new Error(`models[${index}].model must be unique, received '${model.model}' twice`);
      seen.add(model.model);
      if ((model.task === 'regression') !== (model.labels.length === 0)) {
        throw new Error(`models[${index}].labels must be empty for a regressor and name the classes of a classifier, received ${model.labels.length} labels for task ${model.task}`);
      }
    });
    const label = `${props.namePrefix} feedback`;

    this.ledger = new dynamodb.TableV2(this, 'Ledger', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billing: dynamodb.Billing.onDemand(),
      timeToLiveAttribute: 'expiresAt',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryptionV2.awsManagedKey(),
      removalPolicy: props.ledgerRemovalPolicy ?? RemovalPolicy.DESTROY,
    });

    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH, removalPolicy: LOG_GROUP_REMOVAL_POLICY });
    this.role = functionRole(this, 'Role', this.logGroup, `${label}: put label objects under ${GROUND_TRUTH_PREFIX} of the capture bucket, claim labels in its ledger table, write its logs`);
    const labelObjects = props.bucket.arnForObjects(`${GROUND_TRUTH_PREFIX}*`);
    // One PutObject of a small body (never multipart): GenerateDataKey is all SSE-KMS needs, no Decrypt.
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [labelObjects] }));
    grantKey(this.role, props.bucketKey, ['kms:GenerateDataKey']);
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['dynamodb:PutItem'], resources: [this.ledger.tableArn] }));
    acknowledgeWildcards(this.role, [
      { finding: nagResource(this, labelObjects), reason: `PutObject under ${GROUND_TRUTH_PREFIX} only: each request's labels are one new object named by the request id` },
    ]);

    const environment: Record<string, string> = {
      CAPTURE_BUCKET: props.bucket.bucketName,
      LEDGER_TABLE: this.ledger.tableName,
      FEEDBACK_MODELS: JSON.stringify(props.models.map((m) => ({ model: m.model, task: m.task, labels: m.labels, ...(m.maxBatchSize === undefined ? {} : { maxBatchSize: m.maxBatchSize }) }))),
      MAX_BODY_BYTES: String(maxBodyBytes),
      LEDGER_TTL_DAYS: String(retentionDays),
      POWERTOOLS_SERVICE_NAME: `${props.namePrefix}-feedback`,
      LOG_LEVEL: 'INFO',
      NODE_OPTIONS: '--enable-source-maps',
    };
    // Tokens (the bucket and table names) resolve to short names; the models' classes are what can grow.
    const literalBytes = Object.entries(environment).reduce((sum, [k, v]) => sum + k.length + (v.startsWith('${Token') ? 64 : Buffer.byteLength(v)), 0);
    if (literalBytes > MAX_ENVIRONMENT_BYTES) {
      throw new Error(`models' classes do not fit the feedback function's environment (Lambda's limit is ${MAX_ENVIRONMENT_BYTES} bytes), received ${literalBytes} bytes; a model with this many classes needs its targets read from its model card`);
    }
    this.function = new lambda.Function(this, 'Function', {
      functionName: boundedName(`${props.namePrefix}-feedback`, 64),
      description: `${label}: ground-truth labels of POST /v1/models/{name}/feedback into the capture bucket`,
      runtime: ZIP_FUNCTION_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: feedbackCode(props.entry),
      memorySize: 512,
      // A request is at most 1,000 conditional puts (50 at a time) and one PutObject; API Gateway waits 29 s.
      timeout: Duration.seconds(25),
      role: this.role,
      logGroup: this.logGroup,
      environment,
    });
    acknowledgeRuntime(this.function);
  }
}
