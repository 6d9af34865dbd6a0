// Security checks over every stack the project can make (test/fixtures/every-stack.ts):
//   1. cdk-nag's AwsSolutions pack finds nothing unacknowledged; every acknowledgement names one finding id
//      and gives a reason;
//   2. least privilege: no IAM statement with a wildcard action, and no "*" resource, outside the short
//      allow-list below; no resource policy opens anything to everyone;
//   4. data at rest and in transit: buckets encrypted, SSL only, private, logged, versioned where they hold
//      models; topics and queues KMS-encrypted and SSL only; keys rotated; every log group with a
//      retention and one removal policy; every function logging to such a group.
// Each walker is also shown a non-compliant case, so a check that finds nothing is a check that works.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { acknowledgeWildcards, flattenReference, wildcardFindings } from '../../../lib/private/nag';
import { buildEveryStack, resourcesOfType, type TemplateResource } from '../../fixtures/every-stack';

const { stacks, cleanup } = buildEveryStack();
after(cleanup);

// ---------------------------------------------------------------------------------------------- cdk-nag

/** One line per unacknowledged finding: rule id, construct path, message. */
function nagFindings(stack: Stack): string[] {
  const report = new AwsSolutionsChecks().validateScope(stack);
  return report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName}  ${r.constructPath}  ${v.description}`));
}

/** Every acknowledgement recorded in the tree: construct path, rule id, reason. */
function acknowledgements(stack: Stack): { path: string; id: string; reason: string }[] {
  return stack.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) => Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({ path: c.node.path, id: id.replace(/^annotation::/i, ''), reason }))),
  );
}

describe('cdk-nag (AwsSolutions)', () => {
  for (const { label, stack } of stacks) {
    it(`finds nothing unacknowledged in ${label}`, () => {
      const findings = nagFindings(stack);
      assert.deepEqual(findings, [], `unacknowledged cdk-nag findings:\n${findings.join('\n')}`);
    });

    it(`acknowledges narrowly in ${label}: one rule id each, never a whole pack or the stack, with a reason`, () => {
      const acks = acknowledgements(stack);
      assert.ok(acks.length > 0);
      for (const ack of acks) {
        assert.match(ack.id, /^AwsSolutions-[A-Z]+[0-9]+(\[.+\])?$/, `${ack.path}: ${ack.id}`);
        assert.notEqual(ack.path, stack.node.path, `${ack.id} acknowledged on the whole stack`);
        assert.ok(ack.reason.length >= 60, `${ack.path} ${ack.id}: the reason should say why (${ack.reason})`);
        // A wildcard acknowledgement is one finding of one policy, not IAM5 as a whole.
        if (ack.id.startsWith('AwsSolutions-IAM5')) assert.match(ack.id, /^AwsSolutions-IAM5\[(Action|Resource)::.+\]$/, ack.path);
        if (ack.id.startsWith('AwsSolutions-IAM4')) assert.match(ack.id, /^AwsSolutions-IAM4\[Policy::.+\]$/, ack.path);
      }
    });
  }

  it('a finding nobody explained stays a finding; an explained one is acknowledged on that policy alone', () => {
    const stack = new Stack(new App(), 'Nag');
    const bucket = new s3.Bucket(stack, 'Bucket');
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [bucket.arnForObjects('in/*')] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:List*'], resources: [bucket.bucketArn] }));
    const acked = acknowledgeWildcards(role, [{ finding: /^Resource::<Bucket[0-9A-F]+\.Arn>\/in\/\*$/, reason: 'only the in/ prefix of this one bucket' }]);
    assert.deepEqual(acked.length, 1);
    const ids = new AwsSolutionsChecks().validateScope(stack).violations.map((v) => v.ruleName);
    assert.ok(ids.includes('AwsSolutions-IAM5[Action::s3:List*]'), ids.join(' '));
    assert.ok(!ids.some((id) => id.includes('/in/*')), ids.join(' '));
    assert.throws(() => acknowledgeWildcards(bucket, []), /Nag\/Bucket has no policy to acknowledge wildcards on/);
  });

  it("writes findings as cdk-nag does: Fn::Join flattened, GetAtt and Ref in angle brackets, Sub's ${} too", () => {
    assert.equal(flattenReference({ 'Fn::Join': ['', [{ 'Fn::GetAtt': ['B1', 'Arn'] }, '/x/*']] }), '<B1.Arn>/x/*');
    assert.equal(flattenReference({ 'Fn::Join': [':', ['arn', { Ref: 'AWS::Partition' }, 's3']] }), 'arn:<AWS::Partition>:s3');
    assert.equal(flattenReference({ 'Fn::Sub': 'arn:${AWS::Partition}:x' }), 'arn:<AWS::Partition>:x');
    assert.deepEqual(wildcardFindings({ Statement: [{ Effect: 'Allow', Action: ['s3:Get*', 's3:PutObject'], Resource: '*' }, { Effect: 'Deny', Action: '*', Resource: '*' }] }), ['Action::s3:Get*', 'Resource::*']);
  });
});

// ------------------------------------------------------------------------------------- least privilege

/**
 * The only actions allowed on Resource "*": each supports no resource-level permission, so IAM accepts
 * nothing narrower.
 */
const STAR_RESOURCE_ACTIONS: Readonly<Record<string, string>> = {
  // Lambda and Step Functions active tracing (X-Ray has no resource types for these).
  'xray:PutTraceSegments': 'X-Ray tracing',
  'xray:PutTelemetryRecords': 'X-Ray tracing',
  'xray:GetSamplingRules': 'X-Ray tracing (Step Functions)',
  'xray:GetSamplingTargets': 'X-Ray tracing (Step Functions)',
  // No resource type; every use must carry a cloudwatch:namespace condition (checked below).
  'cloudwatch:PutMetricData': 'metrics, scoped by namespace condition',
  // No resource type; only logs in to ECR, what can be pulled is limited by ecr:BatchGetImage's resource.
  'ecr:GetAuthorizationToken': 'ECR login for SageMaker',
  // Step Functions logging to CloudWatch Logs (vended logs): the Logs delivery APIs take "*" only.
  'logs:CreateLogDelivery': 'Step Functions log delivery',
  'logs:GetLogDelivery': 'Step Functions log delivery',
  'logs:UpdateLogDelivery': 'Step Functions log delivery',
  'logs:DeleteLogDelivery': 'Step Functions log delivery',
  'logs:ListLogDeliveries': 'Step Functions log delivery',
  'logs:PutResourcePolicy': 'Step Functions log delivery',
  'logs:DescribeResourcePolicies': 'Step Functions log delivery',
  'logs:DescribeLogGroups': 'Step Functions log delivery',
};

/**
 * The only wildcard actions, each only in the policy named: the Firehose L2's S3 destination grants its
 * role CDK's grantReadWrite and grantEncryptDecrypt whatever role it is given, on the capture bucket and key.
 */
const WILDCARD_ACTIONS: readonly { action: string; policy: RegExp; expandsTo: string }[] = [
  { action: 's3:GetObject*', policy: /^CaptureDeliveryStreamS3DestinationRoleDefaultPolicy/, expandsTo: 'GetObject, GetObjectAcl, GetObjectAttributes, GetObjectTagging, GetObjectVersion...' },
  { action: 's3:GetBucket*', policy: /^CaptureDeliveryStreamS3DestinationRoleDefaultPolicy/, expandsTo: 'GetBucketLocation and the bucket configuration reads' },
  { action: 's3:List*', policy: /^CaptureDeliveryStreamS3DestinationRoleDefaultPolicy/, expandsTo: 'ListBucket, ListBucketMultipartUploads, ListMultipartUploadParts' },
  { action: 's3:DeleteObject*', policy: /^CaptureDeliveryStreamS3DestinationRoleDefaultPolicy/, expandsTo: 'DeleteObject, DeleteObjectTagging, DeleteObjectVersion...' },
  { action: 's3:Abort*', policy: /^CaptureDeliveryStreamS3DestinationRoleDefaultPolicy/, expandsTo: 'AbortMultipartUpload' },
  { action: 'kms:GenerateDataKey*', policy: /^CaptureDeliveryStreamS3DestinationRoleDefaultPolicy/, expandsTo: 'GenerateDataKey, GenerateDataKeyWithoutPlaintext, GenerateDataKeyPair...' },
  { action: 'kms:ReEncrypt*', policy: /^CaptureDeliveryStreamS3DestinationRoleDefaultPolicy/, expandsTo: 'ReEncryptFrom, ReEncryptTo' },
];

interface PolicyStatement {
  Effect: string;
  Action?: string | string[];
  NotAction?: unknown;
  Resource?: unknown;
  NotResource?: unknown;
  Principal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

/** Every identity policy of a template: AWS::IAM::Policy, AWS::IAM::ManagedPolicy, and roles' inline policies. */
function identityPolicies(resources: Record<string, TemplateResource>): { id: string; statements: PolicyStatement[] }[] {
  const policies: { id: string; statements: PolicyStatement[] }[] = [];
  for (const [id, r] of Object.entries(resources)) {
    const p = r.Properties ?? {};
    if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') policies.push({ id, statements: (p.PolicyDocument as { Statement: PolicyStatement[] }).Statement });
    if (r.Type === 'AWS::IAM::Role') {
      for (const inline of (p.Policies as { PolicyName: string; PolicyDocument: { Statement: PolicyStatement[] } }[] | undefined) ?? []) policies.push({ id: `${id}/${inline.PolicyName}`, statements: inline.PolicyDocument.Statement });
    }
  }
  return policies;
}

/** What breaks least privilege in a template's identity policies, one line each; empty when nothing does. */
function privilegeProblems(resources: Record<string, TemplateResource>): string[] {
  const problems: string[] = [];
  for (const { id, statements } of identityPolicies(resources)) {
    for (const s of statements) {
      if (s.Effect !== 'Allow') continue;
      if (s.NotAction !== undefined || s.NotResource !== undefined) problems.push(`${id}: NotAction/NotResource allows everything else`);
      const actions = [s.Action ?? []].flat();
      const starResource = [s.Resource ?? []].flat().some((r) => r === '*');
      for (const action of actions) {
        if (action.includes('*') && !WILDCARD_ACTIONS.some((w) => w.action === action && w.policy.test(id))) problems.push(`${id}: wildcard action ${action}`);
        if (starResource && !(action in STAR_RESOURCE_ACTIONS)) problems.push(`${id}: ${action} on Resource "*"`);
        if (starResource && action === 'cloudwatch:PutMetricData' && !s.Condition?.StringEquals?.['cloudwatch:namespace']) problems.push(`${id}: cloudwatch:PutMetricData on "*" without a cloudwatch:namespace condition`);
      }
    }
  }
  return problems;
}

/** Resource policies (buckets, topics, queues) that allow anyone at all. */
function openResourcePolicies(resources: Record<string, TemplateResource>): string[] {
  const problems: string[] = [];
  for (const [id, r] of Object.entries(resources)) {
    if (!['AWS::S3::BucketPolicy', 'AWS::SNS::TopicPolicy', 'AWS::SQS::QueuePolicy'].includes(r.Type)) continue;
    for (const s of (r.Properties!.PolicyDocument as { Statement: PolicyStatement[] }).Statement) {
      const principal = s.Principal as string | { AWS?: unknown } | undefined;
      if (s.Effect === 'Allow' && (principal === '*' || (typeof principal === 'object' && [principal.AWS].flat().includes('*')))) problems.push(`${id}: allows Principal "*"`);
    }
  }
  return problems;
}

describe('least privilege', () => {
  for (const { label, resources } of stacks) {
    it(`every identity policy of ${label} names its actions and resources (allow-list aside)`, () => {
      const policies = identityPolicies(resources);
      assert.ok(policies.length >= 15, `found ${policies.length} policies`);
      const problems = privilegeProblems(resources);
      assert.deepEqual(problems, [], problems.join('\n'));
    });

    it(`no bucket, topic or queue policy of ${label} allows everyone, and no role has an AWS managed policy but the two AWS maintains for API Gateway logging and CodeDeploy`, () => {
      assert.deepEqual(openResourcePolicies(resources), []);
      const managed = resourcesOfType(resources, 'AWS::IAM::Role').flatMap(([id, r]) => ((r.Properties!.ManagedPolicyArns as unknown[] | undefined) ?? []).map((arn) => `${id} ${flattenReference(arn)}`));
      for (const line of managed) assert.match(line, /service-role\/(AmazonAPIGatewayPushToCloudWatchLogs|AWSCodeDeployRoleForLambdaLimited)$/, line);
    });
  }

  it('reads S3 and KMS with explicit actions: no s3:GetObject*, s3:List* or kms:GenerateDataKey* outside the Firehose role', () => {
    for (const { resources } of stacks) {
      const actions = identityPolicies(resources)
        .filter((p) => !p.id.startsWith('CaptureDeliveryStreamS3DestinationRole'))
        .flatMap((p) => p.statements.flatMap((s) => [s.Action ?? []].flat()));
      assert.ok(actions.includes('s3:GetObject') && actions.includes('s3:PutObject') && actions.includes('kms:GenerateDataKey'));
      assert.deepEqual(actions.filter((a) => a.includes('*')), []);
    }
  });

  it('flags a wildcard action, a "*" resource for an action that has resource types, NotAction and an open bucket policy', () => {
    const stack = new Stack(new App(), 'Bad');
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:*'], resources: ['arn:aws:s3:::b/*'] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sns:Publish'], resources: ['*'] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['cloudwatch:PutMetricData'], resources: ['*'] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ notActions: ['iam:*'], resources: ['arn:aws:s3:::b'] }));
    const bucket = new s3.Bucket(stack, 'Bucket');
    bucket.addToResourcePolicy(new iam.PolicyStatement({ principals: [new iam.AnyPrincipal()], actions: ['s3:GetObject'], resources: [bucket.arnForObjects('*')] }));
    const resources = (Template.fromStack(stack).toJSON() as { Resources: Record<string, TemplateResource> }).Resources;
    const problems = privilegeProblems(resources);
    assert.ok(problems.some((p) => p.endsWith('wildcard action s3:*')), problems.join('\n'));
    assert.ok(problems.some((p) => p.endsWith('sns:Publish on Resource "*"')), problems.join('\n'));
    assert.ok(problems.some((p) => p.endsWith('without a cloudwatch:namespace condition')), problems.join('\n'));
    assert.ok(problems.some((p) => p.endsWith('NotAction/NotResource allows everything else')), problems.join('\n'));
    assert.equal(openResourcePolicies(resources).length, 1);
  });
});

// ------------------------------------------------------------------------------- data at rest / in transit

type Resources = Record<string, TemplateResource>;

/** The logical id a `Ref` or `Fn::GetAtt` points at. */
function target(value: unknown): string | undefined {
  const v = value as { Ref?: string; 'Fn::GetAtt'?: [string, string] } | undefined;
  return v?.Ref ?? v?.['Fn::GetAtt']?.[0];
}

/** The policy statements attached to a bucket, topic or queue. */
function attachedStatements(resources: Resources, policyType: string, key: string, id: string): PolicyStatement[] {
  return resourcesOfType(resources, policyType)
    .filter(([, p]) => [p.Properties![key]].flat().some((ref) => target(ref) === id))
    .flatMap(([, p]) => (p.Properties!.PolicyDocument as { Statement: PolicyStatement[] }).Statement);
}

function deniesInsecureTransport(statements: PolicyStatement[]): boolean {
  return statements.some((s) => s.Effect === 'Deny' && (s.Condition?.Bool as Record<string, unknown> | undefined)?.['aws:SecureTransport'] === 'false');
}

describe('data at rest and in transit', () => {
  for (const { label, resources } of stacks) {
    it(`every bucket of ${label} is encrypted, SSL only, private, access-logged, versioned when it holds models, and kept`, () => {
      const buckets = resourcesOfType(resources, 'AWS::S3::Bucket');
      assert.ok(buckets.length >= 4, buckets.map(([id]) => id).join(', '));
      const logBuckets = buckets.filter(([id]) => id.startsWith('AccessLogsBucket'));
      assert.equal(logBuckets.length, 1, 'one server access log bucket');
      const [logBucketId] = logBuckets[0]!;
      for (const [id, bucket] of buckets) {
        const p = bucket.Properties!;
        const sse = (p.BucketEncryption as { ServerSideEncryptionConfiguration: { ServerSideEncryptionByDefault: { SSEAlgorithm: string } }[] } | undefined)?.ServerSideEncryptionConfiguration[0]?.ServerSideEncryptionByDefault.SSEAlgorithm;
        assert.ok(sse === 'aws:kms' || sse === 'AES256', `${id} encrypted (${sse})`);
        assert.deepEqual(p.PublicAccessBlockConfiguration, { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true }, id);
        assert.ok(deniesInsecureTransport(attachedStatements(resources, 'AWS::S3::BucketPolicy', 'Bucket', id)), `${id} denies requests without TLS`);
        assert.equal(bucket.DeletionPolicy, 'Retain', id);
        if (id !== logBucketId) assert.equal(target((p.LoggingConfiguration as { DestinationBucketName?: unknown } | undefined)?.DestinationBucketName), logBucketId, `${id} logs its requests to the access log bucket`);
      }
      // S3 delivers server access logs to SSE-S3 buckets only.
      assert.equal((logBuckets[0]![1].Properties!.BucketEncryption as { ServerSideEncryptionConfiguration: { ServerSideEncryptionByDefault: { SSEAlgorithm: string } }[] }).ServerSideEncryptionConfiguration[0]!.ServerSideEncryptionByDefault.SSEAlgorithm, 'AES256');
      // The model registry holds retrained models: versioned, so an overwritten or deleted model comes back.
      const registry = buckets.filter(([id]) => id.startsWith('RetrainRegistry'));
      assert.equal(registry.length, 1);
      assert.deepEqual(registry[0]![1].Properties!.VersioningConfiguration, { Status: 'Enabled' });
    });

    it(`every topic and queue of ${label} is KMS-encrypted with a rotated customer key and refuses requests without TLS`, () => {
      const topics = resourcesOfType(resources, 'AWS::SNS::Topic');
      const queues = resourcesOfType(resources, 'AWS::SQS::Queue');
      assert.ok(topics.length >= 2 && queues.length >= 1);
      const keys = new Map(resourcesOfType(resources, 'AWS::KMS::Key'));
      for (const [id, topic] of topics) {
        const key = keys.get(target(topic.Properties!.KmsMasterKeyId) ?? '');
        assert.ok(key, `${id} encrypted with a key of the stack`);
        assert.equal(key.Properties!.EnableKeyRotation, true, id);
        assert.ok(deniesInsecureTransport(attachedStatements(resources, 'AWS::SNS::TopicPolicy', 'Topics', id)), `${id} SSL only`);
      }
      for (const [id, queue] of queues) {
        const key = keys.get(target(queue.Properties!.KmsMasterKeyId) ?? '');
        assert.ok(key, `${id} encrypted with a key of the stack (not SQS-managed)`);
        assert.equal(key.Properties!.EnableKeyRotation, true, id);
        assert.equal(queue.Properties!.SqsManagedSseEnabled, undefined, id);
        assert.ok(deniesInsecureTransport(attachedStatements(resources, 'AWS::SQS::QueuePolicy', 'Queues', id)), `${id} SSL only`);
      }
      for (const [id, key] of keys) assert.equal(key.Properties!.EnableKeyRotation, true, `${id} rotates`);
      for (const [id, stream] of resourcesOfType(resources, 'AWS::KinesisFirehose::DeliveryStream')) assert.ok(stream.Properties!.DeliveryStreamEncryptionConfigurationInput, `${id} encrypted`);
    });

    it(`every log group of ${label} has a retention and is retained (SageMaker's own endpoint group aside), and every function logs to one`, () => {
      const groups = new Map(resourcesOfType(resources, 'AWS::Logs::LogGroup'));
      assert.ok(groups.size >= 10);
      for (const [id, group] of groups) {
        assert.ok(typeof group.Properties!.RetentionInDays === 'number' && group.Properties!.RetentionInDays > 0, `${id} has a retention`);
        const sagemakerOwn = flattenReference(group.Properties!.LogGroupName).startsWith('/aws/sagemaker/Endpoints/');
        assert.equal(group.DeletionPolicy, sagemakerOwn ? 'Delete' : 'Retain', id);
      }
      // API Gateway's execution log group is created by the stack, so it has a retention too.
      assert.ok([...groups.values()].some((g) => flattenReference(g.Properties!.LogGroupName).startsWith('API-Gateway-Execution-Logs_')));
      const functions = resourcesOfType(resources, 'AWS::Lambda::Function');
      assert.ok(functions.length >= 8);
      for (const [id, fn] of functions) {
        const group = target((fn.Properties!.LoggingConfig as { LogGroup?: unknown } | undefined)?.LogGroup);
        assert.ok(group && groups.has(group), `${id} logs to a log group of the stack (${group})`);
      }
      // The API keeps its access log.
      const [stage] = resourcesOfType(resources, 'AWS::ApiGateway::Stage');
      const destination = flattenReference((stage![1].Properties!.AccessLogSetting as { DestinationArn: unknown }).DestinationArn);
      const accessLogGroup = /:log-group:<([A-Za-z0-9]+)>$/.exec(destination)?.[1];
      assert.ok(accessLogGroup && groups.has(accessLogGroup), `access log into a log group with retention (${destination})`);
    });
  }

  it('the shipped manifest puts the web ACL on the stage (the default); the variant, API keys with usage plans on every model route, and the health checks open', () => {
    const variant = stacks[1]!;
    variant.template.resourceCountIs('AWS::WAFv2::WebACL', 0);
    stacks[0]!.template.resourceCountIs('AWS::WAFv2::WebACL', 1);
    stacks[0]!.template.resourceCountIs('AWS::WAFv2::WebACLAssociation', 1);
    stacks[0]!.template.hasResourceProperties('AWS::WAFv2::WebACL', { Rules: Match.arrayWith([Match.objectLike({ Statement: { RateBasedStatement: Match.objectLike({ Limit: 2000, AggregateKeyType: 'IP' }) } })]) });
    variant.template.resourceCountIs('AWS::ApiGateway::UsagePlan', 2);
    variant.template.hasOutput('ApiAuthorization', { Value: 'apiKey' });
    variant.template.hasOutput('ApiKeyIdWebShop', { Value: { Ref: Match.stringLikeRegexp('^ApiApiKey0') } });
    variant.template.hasOutput('ApiKeyIdBatchTeam', { Value: { Ref: Match.stringLikeRegexp('^ApiApiKey1') } });
    stacks[0]!.template.hasOutput('ApiAuthorization', { Value: 'iam' });
    const methods = resourcesOfType(variant.resources, 'AWS::ApiGateway::Method').map(([, m]) => m.Properties!);
    assert.ok(methods.filter((m) => m.ApiKeyRequired === true).length >= 10);
    assert.equal(methods.filter((m) => m.AuthorizationType === 'AWS_IAM').length, 0);
    const shipped = stacks[0]!;
    // Only the stage without a web ACL acknowledges cdk-nag's APIG3.
    assert.deepEqual([shipped, variant].map((b) => acknowledgements(b.stack).filter((a) => a.id === 'AwsSolutions-APIG3').length), [0, 1]);
    const shippedMethods = resourcesOfType(shipped.resources, 'AWS::ApiGateway::Method').map(([, m]) => m.Properties!);
    // Health: GET live, GET ready and their 405 catch-alls; everything else signed.
    assert.equal(shippedMethods.filter((m) => m.AuthorizationType === 'NONE').length, 4);
  });
});
