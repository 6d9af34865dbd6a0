// The stage's bucket of S3 server access logs: every other bucket of the stack (captures, pipeline data,
// model registry) logs each request made to it here, under its own prefix, so who read or wrote which object
// can be answered after the fact. S3 delivers server access logs only to an SSE-S3 bucket (not SSE-KMS), in
// the same account and region; the logs expire after `retentionDays`.
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface AccessLogsBucketProps {
  /**
   * Days a server access log object is kept.
   * @default 365
   */
  readonly retentionDays?: number;
  /**
   * What happens to the bucket when the stack is deleted.
   * @default RemovalPolicy.RETAIN - access logs are the audit record of the other buckets
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** An SSE-S3, SSL-only, private bucket that receives the other buckets' server access logs. */
export class AccessLogsBucket extends Construct {
  public readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: AccessLogsBucketProps = {}) {
    super(scope, id);
    const retentionDays = props.retentionDays ?? 365;
    if (!Number.isInteger(retentionDays) || retentionDays < 1) throw new Error(`retentionDays must be a whole number of days, 1 or more, received ${retentionDays}`);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      // Server access log delivery supports SSE-S3 only.
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(retentionDays) }],
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the server access log bucket itself: logging its own requests into itself would log every log delivery, without end',
    });
  }
}
