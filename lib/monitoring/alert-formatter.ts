// The stage's alarm topic and the alert formatter behind it. Composite alarms notify the alarm topic (KMS
// encrypted, SSL only) on ALARM and OK; the formatter, subscribed to it, turns each CloudWatch notification
// into a readable alert (lambdas/alert-formatter) and publishes it to the notifications topic people
// subscribe to. Its role may publish there (and use that topic's key), describe the stage's alarms and
// write its logs; nothing else.
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { bundleEntry, PROJECT_ROOT } from '../private/bundle';
import { LOG_GROUP_REMOVAL_POLICY } from '../private/logs';
import { boundedName } from '../private/names';
import { acknowledgeWildcards, nagResource } from '../private/nag';
import { stagingDir } from '../private/staging';
import { ZIP_FUNCTION_RUNTIME, acknowledgeRuntime } from '../private/runtime';

/** The alert formatter's entry point (exports `handler`). */
export const DEFAULT_ALERT_FORMATTER_ENTRY = join(PROJECT_ROOT, 'lambdas', 'alert-formatter', 'index.ts');

export interface AlertFormatterProps {
  /** `<project>-<stage>`: names of the topic, the function, and the alarms it may describe (`<namePrefix>-*`). */
  readonly namePrefix: string;
  readonly project: string;
  readonly stage: string;
  /** Every model of the stage and the version it serves. */
  readonly models: Readonly<Record<string, string | number>>;
  /** Where readable alerts go (people's e-mails) and the key that encrypts it. */
  readonly notificationTopic: sns.ITopic;
  readonly notificationKey: kms.IKey;
  /** The stage's dashboard, linked from every alert. */
  readonly dashboardUrl?: string;
  /**
   * TypeScript entry of the formatter, exporting `handler`.
   * @default - lambdas/alert-formatter/index.ts
   */
  readonly entry?: string;
  /**
   * How long the formatter's logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/** The formatter's code: its handler bundled by esbuild (CommonJS, AWS SDK included) into a staged folder. */
export function alertFormatterCode(entry = DEFAULT_ALERT_FORMATTER_ENTRY): lambda.Code {
  const bundle = bundleEntry(resolve(entry), { propName: 'entry', purpose: 'the alert formatter must exist to build its function' });
  const dir = stagingDir('mlship-alert-formatter-');
  writeFileSync(join(dir, 'package.json'), '{ "private": true, "type": "commonjs" }\n');
  writeFileSync(join(dir, 'index.js'), bundle.js);
  writeFileSync(join(dir, 'index.js.map'), bundle.map);
  return lambda.Code.fromAsset(dir);
}

export class AlertFormatter extends Construct {
  /** Composite alarms notify this topic; only the formatter reads it. */
  public readonly alarmTopic: sns.Topic;
  public readonly alarmTopicKey: kms.Key;
  public readonly function: lambda.Function;
  public readonly role: iam.Role;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: AlertFormatterProps) {
    super(scope, id);
    const label = `${props.namePrefix} alert formatter`;
    this.alarmTopicKey = new kms.Key(this, 'AlarmTopicKey', {
      description: `${props.namePrefix}: encrypts the alarm topic`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // CloudWatch alarms publish to the topic, so they must be able to use its key.
    this.alarmTopicKey.addToResourcePolicy(
      new iam.PolicyStatement({ principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')], actions: ['kms:Decrypt', 'kms:GenerateDataKey*'], resources: ['*'] }),
    );
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      topicName: `${props.namePrefix}-alarms`,
      displayName: `mlship ${props.namePrefix} alarms`,
      masterKey: this.alarmTopicKey,
      enforceSSL: true,
    });
    // The topic has a policy of its own (SSL only), which replaces SNS's default: CloudWatch needs its
    // statement, and only for this stage's alarms.
    const stageAlarms = Stack.of(this).formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: `${props.namePrefix}-*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    this.alarmTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.alarmTopic.topicArn],
        conditions: { ArnLike: { 'aws:SourceArn': stageAlarms }, StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );

    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH, removalPolicy: LOG_GROUP_REMOVAL_POLICY });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${label}: describe the stage's alarms, publish readable alerts to the notifications topic, write its logs`,
    });
    this.logGroup.grantWrite(this.role);
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [props.notificationTopic.topicArn] }));
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [props.notificationKey.keyArn] }));
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['cloudwatch:DescribeAlarms'],
        resources: [stageAlarms],
      }),
    );
    acknowledgeWildcards(this.role, [
      { finding: nagResource(this, stageAlarms), reason: `DescribeAlarms on this stage's alarms only (every alarm of the stack is named ${props.namePrefix}-...), read only` },
    ]);

    this.function = new lambda.Function(this, 'Function', {
      functionName: boundedName(`${props.namePrefix}-alert-formatter`, 64),
      description: `${label}: CloudWatch alarm notifications to readable alerts on the notifications topic`,
      runtime: ZIP_FUNCTION_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: alertFormatterCode(props.entry),
      memorySize: 256,
      timeout: Duration.seconds(30),
      role: this.role,
      logGroup: this.logGroup,
      environment: {
        NOTIFICATION_TOPIC_ARN: props.notificationTopic.topicArn,
        PROJECT: props.project,
        STAGE: props.stage,
        MODELS: JSON.stringify(Object.fromEntries(Object.entries(props.models).map(([name, version]) => [name, String(version)]))),
        ...(props.dashboardUrl ? { DASHBOARD_URL: props.dashboardUrl } : {}),
        POWERTOOLS_SERVICE_NAME: `${props.namePrefix}-alert-formatter`,
        LOG_LEVEL: 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
      },
    });
    this.alarmTopic.addSubscription(new subscriptions.LambdaSubscription(this.function));
    acknowledgeRuntime(this.function);
  }
}
