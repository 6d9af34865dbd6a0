// Narrow cdk-nag acknowledgements. cdk-nag 3 matches an acknowledgement by its exact finding id, for IAM5
// one per wildcard it finds in a policy (`AwsSolutions-IAM5[Resource::<Bucket.Arn>/_work/*]`,
// `AwsSolutions-IAM5[Action::s3:List*]`). acknowledgeWildcards reads the policy as it stands, writes each
// finding the way cdk-nag does, and acknowledges only those a given reason covers, on that one policy: a
// wildcard nobody explained stays a finding, and the cdk-nag test fails on it.
import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';

/** Why one kind of wildcard is acceptable: `finding` is the text inside IAM5[...] or a pattern over it. */
export interface WildcardReason {
  readonly finding: string | RegExp;
  readonly reason: string;
}

/** cdk-nag's flattening of a CloudFormation value into the text of a finding (utils/flatten-cfn-reference). */
export function flattenReference(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value.replace(/\$\{/g, '<').replace(/}/g, '>');
  if (typeof value === 'object' && value !== null) {
    const node = value as Record<string, unknown>;
    if (node['Fn::Join']) {
      const [delimiter, items] = node['Fn::Join'] as [string, unknown[]];
      return items.map(flattenReference).join(delimiter);
    }
    if (node['Fn::Sub']) return flattenReference(node['Fn::Sub']);
    if (node['Fn::GetAtt']) {
      const [resource, attribute] = node['Fn::GetAtt'] as [unknown, unknown];
      return `<${flattenReference(resource)}.${flattenReference(attribute)}>`;
    }
    if (node['Fn::ImportValue']) return flattenReference(node['Fn::ImportValue']);
    if (node.Ref) return `<${flattenReference(node.Ref)}>`;
  }
  return JSON.stringify(value);
}

interface Statement {
  Effect?: string;
  Action?: string | string[];
  Resource?: unknown;
}

/** The IAM5 findings of a policy document, as cdk-nag words them (`Action::...`, `Resource::...`). */
export function wildcardFindings(document: { Statement?: Statement[] }): string[] {
  const found = new Set<string>();
  for (const statement of document.Statement ?? []) {
    if (statement.Effect !== 'Allow') continue;
    for (const action of [statement.Action ?? []].flat()) if (action.includes('*')) found.add(`Action::${action}`);
    for (const resource of [statement.Resource ?? []].flat()) {
      const flat = flattenReference(resource);
      if (flat.includes('*')) found.add(`Resource::${flat}`);
    }
  }
  return [...found];
}

/** The policy a role's grants go to (its DefaultPolicy), or the policy itself. */
function policyOf(owner: IConstruct): iam.Policy | undefined {
  if (owner instanceof iam.Policy) return owner;
  const child = owner.node.tryFindChild('DefaultPolicy');
  return child instanceof iam.Policy ? child : undefined;
}

/**
 * Acknowledges, on `owner`'s policy only (a role's DefaultPolicy, or an iam.Policy), each IAM5 finding that
 * one of `reasons` covers, with that reason. Call it after the grants it explains. Throws when the policy
 * does not exist, so an acknowledgement can never silently cover nothing.
 */
export function acknowledgeWildcards(owner: IConstruct, reasons: readonly WildcardReason[]): string[] {
  const policy = policyOf(owner);
  if (!policy) throw new Error(`${owner.node.path} has no policy to acknowledge wildcards on`);
  const document = Stack.of(policy).resolve(policy.document) as { Statement?: Statement[] };
  const acknowledged: string[] = [];
  for (const finding of wildcardFindings(document)) {
    const match = reasons.find((r) => (typeof r.finding === 'string' ? r.finding === finding : r.finding.test(finding)));
    if (!match) continue;
    Validations.of(policy).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason: match.reason });
    acknowledged.push(finding);
  }
  return acknowledged;
}

/** The finding text of a resource ARN built from tokens: `nagResource(this, bucket.arnForObjects('_work/*'))`. */
export function nagResource(scope: IConstruct, arn: string): string {
  return `Resource::${flattenReference(Stack.of(scope).resolve(arn))}`;
}

/** Reasons shared by every function: X-Ray active tracing needs PutTraceSegments and PutTelemetryRecords, which take no resource. */
export const XRAY_REASON: WildcardReason = {
  finding: 'Resource::*',
  reason:
    'Resource "*" only for actions that support no resource-level permissions (xray:PutTraceSegments, xray:PutTelemetryRecords of active tracing; cloudwatch:PutMetricData, ecr:GetAuthorizationToken, CloudWatch Logs delivery for Step Functions where present); test/lib/security/security.test.ts fails on any other action with "*"',
};

/** LambdaInvoke tasks and CodeDeploy hooks are granted a function's versions and aliases: `<fn ARN>:*`. */
export function invokeQualifiersReason(scope: IConstruct, functionArns: readonly string[]): WildcardReason[] {
  return functionArns.map((arn) => ({
    finding: `${nagResource(scope, arn)}:*`,
    reason: 'Versions and aliases (qualifiers) of this one named function, which the task or hook invokes by qualified ARN; no other function',
  }));
}
