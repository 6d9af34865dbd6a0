// The pipelines' shared storage: the data bucket and the encrypted notification topic with its e-mails.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { PipelineStorage } from '../../../lib/pipelines/pipeline-storage';
import { createTestApp } from '../../fixtures/cdk-app';

function synth(emails: string[]): Template {
  const { app, cleanup } = createTestApp();
  try {
    const stack = new Stack(app, 'StorageStack');
    new PipelineStorage(stack, 'Pipelines', { namePrefix: 'mlship-dev', emails });
    return Template.fromStack(stack);
  } finally {
    cleanup();
  }
}

describe('PipelineStorage', () => {
  const template = synth(['oncall@example.com', 'ml-team@example.com']);

  it('keeps the data bucket encrypted, private, TLS-only and retained, expiring only work files', () => {
    template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: {
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        LifecycleConfiguration: { Rules: [{ Id: 'expire-work-files', Prefix: '_work/', ExpirationInDays: 14, Status: 'Enabled' }] },
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('encrypts the topic with a rotating key that CloudWatch and EventBridge may use', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { TopicName: 'mlship-dev-notifications', KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({ Principal: { Service: ['cloudwatch.amazonaws.com', 'events.amazonaws.com'] }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'] }),
        ]),
      },
    });
  });

  it('subscribes each e-mail address of the manifest, and none when there are none', () => {
    const endpoints = Object.values(template.findResources('AWS::SNS::Subscription')).map((r) => (r as { Properties: { Protocol: string; Endpoint: string } }).Properties);
    assert.deepEqual(
      endpoints.map((e) => `${e.Protocol}:${e.Endpoint}`).sort(),
      ['email:ml-team@example.com', 'email:oncall@example.com'],
    );
    synth([]).resourceCountIs('AWS::SNS::Subscription', 0);
  });
});
