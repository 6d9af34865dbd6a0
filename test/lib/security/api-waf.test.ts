// ApiWaf: the web ACL's three rules (rate per IP, body size, the AWS common rule set with its 8 KB body rule
// counted), the body inspection tier chosen for maxBodyBytes, the Content-Length rule past what WAF can
// inspect, the association with the stage, the props it refuses; and the manifest's api.waf in the stack.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import { ApiWaf, greaterThanPattern, type ApiWafProps } from '../../../lib/security/api-waf';
import { createTestApp } from '../../fixtures/cdk-app';

const cleanups: (() => void)[] = [];
after(() => cleanups.forEach((cleanup) => cleanup()));

function build(props: Omit<ApiWafProps, 'stage'>): { waf: ApiWaf; template: Template } {
  const { app, cleanup } = createTestApp();
  cleanups.push(cleanup);
  const stack = new Stack(app, 'WafStack');
  const api = new apigateway.RestApi(stack, 'Api', { deployOptions: { stageName: 'prod' } });
  api.root.addMethod('GET', new apigateway.MockIntegration());
  const waf = new ApiWaf(stack, 'Waf', { stage: api.deploymentStage, ...props });
  return { waf, template: Template.fromStack(stack) };
}

type Rule = { Name: string; Priority: number; Action?: unknown; OverrideAction?: unknown; Statement: Record<string, Record<string, unknown>> };
function rules(template: Template): Rule[] {
  const [acl] = Object.values(template.findResources('AWS::WAFv2::WebACL')) as { Properties: { Rules: Rule[] } }[];
  return acl!.Properties.Rules;
}

describe('greaterThanPattern', () => {
  for (const n of [0, 9, 10, 99, 1024, 65536, 1048576, 6291456]) {
    it(`matches exactly the numbers above ${n}`, () => {
      const re = new RegExp(greaterThanPattern(n));
      const probes = [0, 1, n - 1, n, n + 1, n + 9, n * 10, n * 10 + 7, 10 ** String(n).length, 123456789012].filter((p) => p >= 0);
      for (const p of probes) assert.equal(re.test(String(p)), p > n, `${p} > ${n}`);
      assert.equal(re.test(`00${n + 1}`), true, 'leading zeros do not hide a large number');
      assert.equal(re.test(`${n + 1}x`), false);
      assert.equal(re.test(''), false);
      assert.ok(greaterThanPattern(n).length <= 512, 'within WAF regexString length');
    });
  }
  it('refuses a negative or fractional number', () => {
    assert.throws(() => greaterThanPattern(-1), { message: 'greaterThanPattern needs a whole number, 0 or more, received -1' });
    assert.throws(() => greaterThanPattern(1.5), { message: 'greaterThanPattern needs a whole number, 0 or more, received 1.5' });
  });
});

describe('ApiWaf', () => {
  it('blocks an IP past the rate, bodies over maxBodyBytes (measured exactly up to 64 KB), and runs the common rule set with its 8 KB body rule counted', () => {
    const { waf, template } = build({ maxBodyBytes: 20_000, rateLimitPer5Minutes: 500, name: 'shop-prod-api' });
    assert.equal(waf.bodyInspectionLimit, 'KB_32');
    template.hasResourceProperties('AWS::WAFv2::WebACL', {
      Name: 'shop-prod-api',
      Scope: 'REGIONAL',
      DefaultAction: { Allow: {} },
      AssociationConfig: { RequestBody: { API_GATEWAY: { DefaultSizeInspectionLimit: 'KB_32' } } },
    });
    const [rate, body, common] = rules(template);
    assert.deepEqual([rate!.Name, body!.Name, common!.Name], ['RateLimitPerIp', 'BodyTooLarge', 'AWSManagedRulesCommonRuleSet']);
    assert.deepEqual(rate!.Action, { Block: {} });
    assert.deepEqual(rate!.Statement, { RateBasedStatement: { Limit: 500, AggregateKeyType: 'IP', EvaluationWindowSec: 300 } });
    assert.deepEqual(body!.Action, { Block: {} });
    assert.deepEqual(body!.Statement, {
      SizeConstraintStatement: { FieldToMatch: { Body: { OversizeHandling: 'MATCH' } }, ComparisonOperator: 'GT', Size: 20_000, TextTransformations: [{ Priority: 0, Type: 'NONE' }] },
    });
    assert.deepEqual(common!.OverrideAction, { None: {} });
    assert.deepEqual(common!.Statement.ManagedRuleGroupStatement, {
      VendorName: 'AWS',
      Name: 'AWSManagedRulesCommonRuleSet',
      RuleActionOverrides: [{ Name: 'SizeRestrictions_BODY', ActionToUse: { Count: {} } }],
    });
    template.hasResourceProperties('AWS::WAFv2::WebACLAssociation', {
      ResourceArn: { 'Fn::Join': ['', Match.arrayWith([':apigateway:', '::/restapis/', '/stages/', { Ref: Match.stringLikeRegexp('ApiDeploymentStageprod') }])] },
      WebACLArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('WafWebAcl'), 'Arn'] },
    });
  });

  it('picks the smallest inspection tier that holds maxBodyBytes, 16 KB at least', () => {
    assert.equal(build({ maxBodyBytes: 1024 }).waf.bodyInspectionLimit, 'KB_16');
    assert.equal(build({ maxBodyBytes: 65_536 }).waf.bodyInspectionLimit, 'KB_64');
  });

  it('past 64 KB, which WAF cannot inspect, blocks on a Content-Length above maxBodyBytes (default rate 2000)', () => {
    const { waf, template } = build({ maxBodyBytes: 1_048_576 });
    assert.equal(waf.bodyInspectionLimit, 'KB_64');
    const [rate, body] = rules(template);
    assert.equal(rate!.Statement.RateBasedStatement.Limit, 2000);
    assert.deepEqual(body!.Statement, {
      RegexMatchStatement: { FieldToMatch: { SingleHeader: { Name: 'content-length' } }, RegexString: greaterThanPattern(1_048_576), TextTransformations: [{ Priority: 0, Type: 'NONE' }] },
    });
  });

  it('refuses a rate below 10 and a body limit below 1 byte', () => {
    assert.throws(() => build({ maxBodyBytes: 1024, rateLimitPer5Minutes: 5 }), { message: 'rateLimitPer5Minutes must be a whole number of requests between 10 and 2000000000, received 5' });
    assert.throws(() => build({ maxBodyBytes: 0 }), { message: 'maxBodyBytes must be a whole number of bytes, 1 or more, received 0' });
  });
});
