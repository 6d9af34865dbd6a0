// FeedbackApi and the feedback routes of InferenceApi on a small stack (a KMS-encrypted bucket standing in for the
// capture bucket, inline functions for the models): a POST /v1/models/<name>/feedback per model with the model
// routes' authorization, 405 for other methods, 404 model_not_found for an unknown model; the function's role
// exactly least-privilege; the ledger table's PITR, TTL, encryption and on-demand billing; every props check; and
// cdk-nag with nothing unacknowledged.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { FeedbackTarget } from '../../../lambdas/core/quality/feedback/validate';
import { FeedbackApi, type FeedbackApiProps } from '../../../lib/quality/feedback-api';
import { InferenceApi, type InferenceApiAuthorization } from '../../../lib/serving/inference-api';
import { createTestApp } from '../../fixtures/cdk-app';
import { methodsByPath } from '../../fixtures/template-routes';

const cleanups: (() => void)[] = [];
after(() => cleanups.forEach((cleanup) => cleanup()));

const MODELS: FeedbackTarget[] = [
  { model: 'breast-cancer', task: 'binary', labels: ['malignant', 'benign'], maxBatchSize: 64 },
  { model: 'prices', task: 'regression', labels: [] },
];

interface Built {
  stack: Stack;
  feedback: FeedbackApi;
  bucket: s3.Bucket;
  key: kms.Key;
  template: Template;
}

function build(authorization: InferenceApiAuthorization = 'iam', extra: Partial<FeedbackApiProps> = {}): Built {
  const { app, cleanup } = createTestApp();
  cleanups.push(cleanup);
  const stack = new Stack(app, 'FeedbackStack');
  const key = new kms.Key(stack, 'CaptureKey', { enableKeyRotation: true });
  const bucket = new s3.Bucket(stack, 'Capture', { encryption: s3.BucketEncryption.KMS, encryptionKey: key, enforceSSL: true, blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL, serverAccessLogsPrefix: 'access/' });
  const feedback = new FeedbackApi(stack, 'Feedback', { namePrefix: 'shop-test', bucket, bucketKey: key, models: MODELS, retentionDays: 45, maxBodyBytes: 1_048_576, ...extra });
  new InferenceApi(stack, 'Api', {
    models: MODELS.map((m) => ({ name: m.model, handler: new lambda.Function(stack, `${m.model}Fn`, { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => ({ statusCode: 200 })') }) })),
    feedbackHandler: feedback.function,
    authorization,
    ...(authorization === 'apiKey' ? { apiKeys: [{ name: 'app' }] } : {}),
  });
  return { stack, feedback, bucket, key, template: Template.fromStack(stack) };
}

const built = build();
const json = built.template.toJSON() as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
const idOf = (construct: { node: { defaultChild?: unknown } }) => built.stack.getLogicalId(construct.node.defaultChild as never);

describe('the feedback routes of InferenceApi', () => {
  const routes = methodsByPath(json.Resources);
  const fnId = idOf(built.feedback.function as never);

  it('gives every model a POST feedback route with IAM authorization, proxied to the feedback function, and 405 for other methods', () => {
    for (const { model } of MODELS) {
      const methods = routes.get(`/v1/models/${model}/feedback`)!;
      assert.deepEqual(methods.map((m) => m.httpMethod).sort(), ['ANY', 'POST']);
      const post = methods.find((m) => m.httpMethod === 'POST')!.properties;
      assert.equal(post.AuthorizationType, 'AWS_IAM');
      const integration = post.Integration as { Type: string; IntegrationHttpMethod: string; Uri: { 'Fn::Join': [string, unknown[]] } };
      assert.equal(integration.Type, 'AWS_PROXY');
      assert.ok(JSON.stringify(integration.Uri).includes(fnId), 'the feedback function, not the model function');
      const any = methods.find((m) => m.httpMethod === 'ANY')!.properties;
      assert.equal((any.Integration as { IntegrationResponses: { StatusCode: string }[] }).IntegrationResponses[0]!.StatusCode, '405');
      assert.equal(any.AuthorizationType, 'AWS_IAM');
    }
  });

  it('answers an unknown model on the feedback path with 404 model_not_found, behind authorization', () => {
    const [unknown] = routes.get('/v1/models/{model}/feedback')!;
    assert.equal(unknown!.httpMethod, 'ANY');
    assert.equal(unknown!.properties.AuthorizationType, 'AWS_IAM');
    const response = (unknown!.properties.Integration as { IntegrationResponses: { StatusCode: string; ResponseTemplates: Record<string, string> }[] }).IntegrationResponses[0]!;
    assert.equal(response.StatusCode, '404');
    assert.match(response.ResponseTemplates['application/json']!, /"code":"model_not_found"/);
  });

  it('throttles the feedback routes like the model routes, with detailed metrics', () => {
    const stage = Object.values(json.Resources).find((r) => r.Type === 'AWS::ApiGateway::Stage')!;
    const settings = stage.Properties.MethodSettings as { HttpMethod: string; ResourcePath: string; ThrottlingRateLimit: number; MetricsEnabled?: boolean }[];
    const feedback = settings.filter((s) => s.ResourcePath.endsWith('~1feedback'));
    assert.deepEqual(feedback.map((s) => [s.HttpMethod, s.ResourcePath, s.ThrottlingRateLimit, s.MetricsEnabled]), [
      ['POST', '/~1v1~1models~1breast-cancer~1feedback', 100, true],
      ['POST', '/~1v1~1models~1prices~1feedback', 100, true],
    ]);
  });

  it('lets API Gateway invoke the feedback function from the feedback POST methods only', () => {
    const permissions = Object.values(json.Resources).filter((r) => r.Type === 'AWS::Lambda::Permission' && JSON.stringify(r.Properties.FunctionName).includes(fnId));
    assert.equal(permissions.length, MODELS.length);
    for (const p of permissions) assert.match(JSON.stringify(p.Properties.SourceArn), /\/POST\/v1\/models\/(breast-cancer|prices)\/feedback"/);
  });

  it('requires the API key on the feedback routes when authorization is apiKey', () => {
    const { template } = build('apiKey');
    const methods = methodsByPath((template.toJSON() as typeof json).Resources).get('/v1/models/prices/feedback')!;
    const post = methods.find((m) => m.httpMethod === 'POST')!.properties;
    assert.deepEqual([post.AuthorizationType, post.ApiKeyRequired], ['NONE', true]);
  });

  it('adds no feedback route without a feedback handler', () => {
    const { app, cleanup } = createTestApp();
    cleanups.push(cleanup);
    const stack = new Stack(app, 'NoFeedback');
    new InferenceApi(stack, 'Api', { models: [{ name: 'iris', handler: new lambda.Function(stack, 'Fn', { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => ({})') }) }] });
    const paths = [...methodsByPath((Template.fromStack(stack).toJSON() as typeof json).Resources).keys()];
    assert.deepEqual(paths.filter((p) => p.includes('feedback')), []);
  });
});

describe('FeedbackApi', () => {
  it('gives the function a role that may put objects under ground-truth/ only, generate data keys with the bucket key, put items in its table and write its own logs', () => {
    const roleId = idOf(built.feedback.role as never);
    const policies = Object.values(json.Resources).filter((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles).includes(roleId));
    assert.equal(policies.length, 1);
    const statements = (policies[0]!.Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown; Effect: string }[] }).Statement;
    assert.deepEqual(
      statements.map((s) => [s.Effect, [s.Action].flat().sort(), s.Resource]),
      [
        ['Allow', ['logs:CreateLogStream', 'logs:PutLogEvents'], { 'Fn::GetAtt': [idOf(built.feedback.logGroup as never), 'Arn'] }],
        ['Allow', ['s3:PutObject'], { 'Fn::Join': ['', [{ 'Fn::GetAtt': [idOf(built.bucket as never), 'Arn'] }, '/ground-truth/*']] }],
        ['Allow', ['kms:GenerateDataKey'], { 'Fn::GetAtt': [idOf(built.key as never), 'Arn'] }],
        ['Allow', ['dynamodb:PutItem'], { 'Fn::GetAtt': [idOf(built.feedback.ledger as never), 'Arn'] }],
      ],
    );
    const role = json.Resources[roleId]!;
    assert.equal(role.Properties.ManagedPolicyArns, undefined, 'no managed policy (no AWSLambdaBasicExecutionRole)');
  });

  it('keeps its ledger in an on-demand table with point-in-time recovery, a TTL at the capture retention and encryption at rest', () => {
    const table = json.Resources[idOf(built.feedback.ledger as never)]!;
    assert.equal(table.Type, 'AWS::DynamoDB::GlobalTable');
    assert.equal(table.Properties.BillingMode, 'PAY_PER_REQUEST');
    assert.deepEqual(table.Properties.KeySchema, [{ AttributeName: 'pk', KeyType: 'HASH' }]);
    assert.deepEqual(table.Properties.TimeToLiveSpecification, { AttributeName: 'expiresAt', Enabled: true });
    assert.deepEqual(table.Properties.SSESpecification, { SSEEnabled: true, SSEType: 'KMS' }, 'the AWS managed key aws/dynamodb');
    const replicas = table.Properties.Replicas as { PointInTimeRecoverySpecification?: { PointInTimeRecoveryEnabled: boolean } }[];
    assert.deepEqual(replicas.map((r) => r.PointInTimeRecoverySpecification), [{ PointInTimeRecoveryEnabled: true }]);
  });

  it('configures the function with the bucket, the table, the models and the limits', () => {
    const fn = json.Resources[idOf(built.feedback.function as never)]!;
    const env = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    assert.deepEqual(env.CAPTURE_BUCKET, { Ref: idOf(built.bucket as never) });
    assert.deepEqual(env.LEDGER_TABLE, { Ref: idOf(built.feedback.ledger as never) });
    assert.deepEqual(JSON.parse(env.FEEDBACK_MODELS as string), MODELS);
    assert.equal(env.MAX_BODY_BYTES, '1048576');
    assert.equal(env.LEDGER_TTL_DAYS, '45');
    assert.deepEqual([fn.Properties.Runtime, fn.Properties.Architectures, fn.Properties.Handler], ['nodejs22.x', ['arm64'], 'index.handler']);
  });

  it('checks its props at synth, naming the prop and the value', () => {
    const cases: [Partial<FeedbackApiProps>, RegExp][] = [
      [{ retentionDays: 0 }, /retentionDays must be a whole number of days, 1 or more, received 0$/],
      [{ maxBodyBytes: 1.5 }, /maxBodyBytes must be a whole number of bytes, 1 or more, received 1.5$/],
      [{ models: [] }, /models must name at least one model, received none$/],
      [{ models: [MODELS[0]!, MODELS[0]!] }, /models\[1\]\.model must be unique, received 'breast-cancer' twice$/],
      [{ models: [{ model: 'x', task: 'regression', labels: ['a'] }] }, /models\[0\]\.labels must be empty for a regressor and name the classes of a classifier, received 1 labels for task regression$/],
      [{ models: [{ model: 'x', task: 'multiclass', labels: Array.from({ length: 400 }, (_, i) => `class-number-${i}`) }] }, /models' classes do not fit the feedback function's environment/],
    ];
    for (const [props, message] of cases) assert.throws(() => build('iam', props), message);
  });
});

describe('cdk-nag', () => {
  it('finds nothing unacknowledged in the feedback function, its role, its table or the feedback routes', () => {
    const all = new AwsSolutionsChecks().validateScope(built.stack).violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName}  ${r.constructPath}`));
    assert.ok(all.some((f) => f.includes('breast-cancerFn')), 'the check runs: the bare stand-in model functions have findings of their own');
    assert.deepEqual(all.filter((f) => f.includes('/Feedback/') || f.includes('feedback')), []);
  });
});
