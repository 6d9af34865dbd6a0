// Least-privilege grants with explicit actions. CDK's bucket grants (grantRead, grantPut) hand out patterns
// such as s3:GetObject*, s3:GetBucket*, s3:List*, s3:Abort* and kms:GenerateDataKey*, kms:ReEncrypt*: more
// than the code does. The functions here grant exactly what lambdas/core/storage/s3-object-store.ts calls
// (ListObjectsV2, GetObject with or without a Range, PutObject), and a role per function that writes only
// to its own log group, instead of the AWSLambdaBasicExecutionRole managed policy (logs:* on every group).
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';

/** What reading objects takes: ListObjectsV2 on the bucket, GetObject on the keys (and Decrypt with a bucket key). */
export const OBJECT_READ_ACTIONS = ['s3:GetObject'] as const;
export const BUCKET_LIST_ACTIONS = ['s3:ListBucket'] as const;
/** What writing objects takes: PutObject (multipart uploads included) and aborting a failed multipart upload. */
export const OBJECT_WRITE_ACTIONS = ['s3:PutObject', 's3:AbortMultipartUpload'] as const;
/** SSE-KMS: GetObject needs Decrypt; PutObject needs GenerateDataKey (and Decrypt to complete a multipart upload). */
export const KMS_DECRYPT_ACTIONS = ['kms:Decrypt'] as const;
export const KMS_ENCRYPT_ACTIONS = ['kms:GenerateDataKey', 'kms:Decrypt'] as const;

/**
 * Lets `grantee` list `bucket` and read its objects under `keyPattern` ('*': every key; 'prefix/*': one
 * prefix), decrypting with the bucket's key if it has one.
 */
export function grantObjectsRead(grantee: iam.IGrantable, bucket: s3.IBucket, keyPattern = '*'): iam.Grant {
  iam.Grant.addToPrincipal({ grantee, actions: [...BUCKET_LIST_ACTIONS], resourceArns: [bucket.bucketArn] });
  if (bucket.encryptionKey) grantKey(grantee, bucket.encryptionKey, KMS_DECRYPT_ACTIONS);
  return iam.Grant.addToPrincipal({ grantee, actions: [...OBJECT_READ_ACTIONS], resourceArns: [bucket.arnForObjects(keyPattern)] });
}

/** Lets `grantee` write objects under `keyPattern` of `bucket`, encrypting with the bucket's key if it has one. */
export function grantObjectsWrite(grantee: iam.IGrantable, bucket: s3.IBucket, keyPattern = '*'): iam.Grant {
  if (bucket.encryptionKey) grantKey(grantee, bucket.encryptionKey, KMS_ENCRYPT_ACTIONS);
  return iam.Grant.addToPrincipal({ grantee, actions: [...OBJECT_WRITE_ACTIONS], resourceArns: [bucket.arnForObjects(keyPattern)] });
}

/** Lets `grantee` use `key` for exactly `actions` (never a kms:*Key* pattern). */
export function grantKey(grantee: iam.IGrantable, key: kms.IKey, actions: readonly string[]): iam.Grant {
  return iam.Grant.addToPrincipal({ grantee, actions: [...actions], resourceArns: [key.keyArn] });
}

/**
 * The execution role of one Lambda function: assumed by Lambda, allowed to write to `logGroup` only (create
 * its streams, put events). X-Ray tracing and the grants a construct adds come on top.
 */
export function functionRole(scope: Construct, id: string, logGroup: logs.ILogGroup, description: string): iam.Role {
  const role = new iam.Role(scope, id, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description });
  logGroup.grantWrite(role);
  return role;
}
