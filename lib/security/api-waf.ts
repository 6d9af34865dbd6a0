// The optional AWS WAF web ACL in front of the API stage (manifest api.waf). There is no L2 construct for
// WAFv2, so this is CfnWebACL and CfnWebACLAssociation. Three rules, in order:
//   1. RateLimitPerIp: a rate-based rule blocking a client IP past `rateLimitPer5Minutes` requests in any
//      5-minute window (WAF evaluates the rate over a sliding window and blocks until it falls back).
//   2. BodyTooLarge: blocks request bodies over `maxBodyBytes`. WAF only sees the first part of a body: for
//      API Gateway 16 KB by default, at most 64 KB (KB_16 .. KB_64, the larger tiers billed extra). So:
//      - maxBodyBytes <= 64 KB: the inspection limit is the smallest tier that holds maxBodyBytes, the body's
//        size is compared exactly, and a body past the inspection limit (oversizeHandling MATCH) is larger
//        than maxBodyBytes by construction, so it is blocked too;
//      - maxBodyBytes > 64 KB: WAF cannot measure such a body, so the rule reads the Content-Length header
//        instead (a regular expression matching every decimal number above maxBodyBytes). A request sent
//        without Content-Length (chunked) is not measured here; API Gateway's own 10 MB cap, Lambda's 6 MB
//        invoke limit and the handler's 413 at maxBodyBytes still apply.
//   3. AWSManagedRulesCommonRuleSet, with its SizeRestrictions_BODY rule (blocks bodies over 8 KB) set to
//      count: inference bodies are legitimately larger, and rule 2 enforces the API's own limit.
import { Names } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';

export interface ApiWafProps {
  /** The API stage the web ACL protects. */
  readonly stage: apigateway.Stage;
  /** Largest request body the API accepts, in bytes: the BodyTooLarge rule blocks larger ones. */
  readonly maxBodyBytes: number;
  /**
   * Requests per client IP in any 5-minute window before WAF blocks that IP.
   * @default 2000
   */
  readonly rateLimitPer5Minutes?: number;
  /**
   * Name of the web ACL and prefix of its metric names.
   * @default - a name unique in the stack
   */
  readonly name?: string;
}

/** WAF's body inspection tiers for API Gateway, in bytes. */
const INSPECTION_TIERS: readonly [string, number][] = [
  ['KB_16', 16 * 1024],
  ['KB_32', 32 * 1024],
  ['KB_48', 48 * 1024],
  ['KB_64', 64 * 1024],
];

/** The largest body WAF can inspect on API Gateway. */
export const WAF_MAX_BODY_INSPECTION_BYTES = 64 * 1024;

/**
 * A regular expression matching exactly the decimal numbers (no sign, leading zeros allowed) greater than
 * `n`: more significant digits than `n`, or as many and larger at the first digit that differs.
 */
export function greaterThanPattern(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`greaterThanPattern needs a whole number, 0 or more, received ${n}`);
  const digits = String(n);
  const k = digits.length;
  const alternatives = [`[1-9][0-9]{${k},}`];
  for (let i = 0; i < k; i++) {
    const d = Number(digits[i]);
    if (d === 9) continue;
    const higher = d === 8 ? '9' : `[${d + 1}-9]`;
    const rest = k - i - 1;
    alternatives.push(`${digits.slice(0, i)}${higher}${rest > 0 ? `[0-9]{${rest}}` : ''}`);
  }
  return `^0*(${alternatives.join('|')})$`;
}

function visibility(metricName: string): wafv2.CfnWebACL.VisibilityConfigProperty {
  return { cloudWatchMetricsEnabled: true, metricName, sampledRequestsEnabled: true };
}

/** A WAFv2 web ACL (rate limit per IP, body size, AWS common rule set) associated with one API stage. */
export class ApiWaf extends Construct {
  public readonly webAcl: wafv2.CfnWebACL;
  /** The inspection limit set on the web ACL for API Gateway bodies (KB_16 .. KB_64). */
  public readonly bodyInspectionLimit: string;

  constructor(scope: Construct, id: string, props: ApiWafProps) {
    super(scope, id);
    const rate = props.rateLimitPer5Minutes ?? 2000;
    if (!(Number.isInteger(rate) && rate >= 10 && rate <= 2_000_000_000)) {
      throw new Error(`rateLimitPer5Minutes must be a whole number of requests between 10 and 2000000000, received ${rate}`);
    }
    if (!(Number.isInteger(props.maxBodyBytes) && props.maxBodyBytes >= 1)) {
      throw new Error(`maxBodyBytes must be a whole number of bytes, 1 or more, received ${props.maxBodyBytes}`);
    }
    const name = props.name ?? Names.uniqueResourceName(this, { maxLength: 128 });
    const tier = INSPECTION_TIERS.find(([, bytes]) => bytes >= props.maxBodyBytes) ?? INSPECTION_TIERS[INSPECTION_TIERS.length - 1]!;
    this.bodyInspectionLimit = tier[0];

    const bodyTooLarge: wafv2.CfnWebACL.StatementProperty =
      props.maxBodyBytes <= WAF_MAX_BODY_INSPECTION_BYTES
        ? {
            sizeConstraintStatement: {
              fieldToMatch: { body: { oversizeHandling: 'MATCH' } },
              comparisonOperator: 'GT',
              size: props.maxBodyBytes,
              textTransformations: [{ priority: 0, type: 'NONE' }],
            },
          }
        : {
            regexMatchStatement: {
              fieldToMatch: { singleHeader: { Name: 'content-length' } },
              regexString: greaterThanPattern(props.maxBodyBytes),
              textTransformations: [{ priority: 0, type: 'NONE' }],
            },
          };

    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      name,
      // WAF descriptions allow letters, digits, spaces and = : # @ / - , . only.
      description: `mlship: rate limit per IP ${rate} per 5 minutes, bodies over ${props.maxBodyBytes} bytes blocked, AWS common rule set`,
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: visibility(name),
      associationConfig: { requestBody: { API_GATEWAY: { defaultSizeInspectionLimit: this.bodyInspectionLimit } } },
      rules: [
        {
          name: 'RateLimitPerIp',
          priority: 0,
          action: { block: {} },
          statement: { rateBasedStatement: { limit: rate, aggregateKeyType: 'IP', evaluationWindowSec: 300 } },
          visibilityConfig: visibility(`${name}-RateLimitPerIp`),
        },
        {
          name: 'BodyTooLarge',
          priority: 1,
          action: { block: {} },
          statement: bodyTooLarge,
          visibilityConfig: visibility(`${name}-BodyTooLarge`),
        },
        {
          name: 'AWSManagedRulesCommonRuleSet',
          priority: 2,
          overrideAction: { none: {} },
          statement: {
            managedRuleGroupStatement: {
              vendorName: 'AWS',
              name: 'AWSManagedRulesCommonRuleSet',
              // Its 8 KB body limit would refuse ordinary inference batches; BodyTooLarge enforces the API's own.
              ruleActionOverrides: [{ name: 'SizeRestrictions_BODY', actionToUse: { count: {} } }],
            },
          },
          visibilityConfig: visibility(`${name}-CommonRuleSet`),
        },
      ],
    });
    new wafv2.CfnWebACLAssociation(this, 'Association', { resourceArn: props.stage.stageArn, webAclArn: this.webAcl.attrArn });
  }
}
