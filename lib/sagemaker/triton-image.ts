// The SageMaker Triton Inference Server image for a stack's region:
// `<account>.dkr.ecr.<region>.<url suffix>/sagemaker-tritonserver:<tritonVersion>-py3`. AWS publishes it from
// a different account in some regions. A stack with a known region gets the account at synth (and an
// unknown region fails synth); an environment-agnostic stack gets a CfnMapping and Fn::FindInMap on
// AWS::Region, so the region decides at deploy (an unknown one fails there, naming the mapping).
import { Aws, CfnMapping, Stack, Token } from 'aws-cdk-lib';
import type { Construct } from 'constructs';

/** The ECR repository of the SageMaker Triton images, in each account below. */
export const TRITON_IMAGE_REPOSITORY = 'sagemaker-tritonserver';

/**
 * The account that publishes the SageMaker Triton image in each region. Source: the SageMaker Python SDK's
 * image registry, aws/sagemaker-python-sdk `src/sagemaker/image_uri_config/sagemaker-tritonserver.json`
 * (versions 23.12 to 24.09 list the same accounts; checked at commit 07ceb4a5e2087a5284e8d2381b4f5d853cc8a688).
 * 763104351884 is the Deep Learning Containers account of most commercial regions; opt-in regions and
 * China have their own. Newer SDK releases add regions for newer Triton versions; add them here once checked.
 */
export const TRITON_IMAGE_ACCOUNTS: Readonly<Record<string, string>> = {
  'af-south-1': '626614931356',
  'ap-east-1': '871362719292',
  'ap-northeast-1': '763104351884',
  'ap-northeast-2': '763104351884',
  'ap-northeast-3': '364406365360',
  'ap-south-1': '763104351884',
  'ap-southeast-1': '763104351884',
  'ap-southeast-2': '763104351884',
  'ap-southeast-3': '907027046896',
  'ca-central-1': '763104351884',
  'ca-west-1': '204538143572',
  'cn-north-1': '727897471807',
  'cn-northwest-1': '727897471807',
  'eu-central-1': '763104351884',
  'eu-north-1': '763104351884',
  'eu-south-1': '692866216735',
  'eu-west-1': '763104351884',
  'eu-west-2': '763104351884',
  'eu-west-3': '763104351884',
  'il-central-1': '780543022126',
  'me-south-1': '217643126080',
  'sa-east-1': '763104351884',
  'us-east-1': '763104351884',
  'us-east-2': '763104351884',
  'us-west-1': '763104351884',
  'us-west-2': '763104351884',
};

/** Triton releases are named by year and month: '24.09'. */
export const TRITON_VERSION_PATTERN = /^\d{2}\.\d{2}$/;

/** Construct id of the stack's one region-to-account mapping. */
export const TRITON_IMAGE_MAPPING_ID = 'TritonImageAccounts';

export interface TritonImage {
  /** The image URI for the model's container. */
  readonly imageUri: string;
  /** The account publishing the image (a literal, or Fn::FindInMap for an environment-agnostic stack). */
  readonly account: string;
  /** The ECR repository's ARN, for the execution role's pull permission. */
  readonly repositoryArn: string;
}

/** The stack's region-to-account mapping, created once per stack. */
function accountMapping(stack: Stack): CfnMapping {
  const existing = stack.node.tryFindChild(TRITON_IMAGE_MAPPING_ID);
  if (existing instanceof CfnMapping) return existing;
  const mapping: Record<string, Record<string, string>> = {};
  for (const [region, account] of Object.entries(TRITON_IMAGE_ACCOUNTS)) mapping[region] = { account };
  return new CfnMapping(stack, TRITON_IMAGE_MAPPING_ID, { mapping });
}

/** The SageMaker Triton image of `tritonVersion` for the region of `scope`'s stack. */
export function tritonImage(scope: Construct, tritonVersion: string): TritonImage {
  if (!TRITON_VERSION_PATTERN.test(tritonVersion)) throw new Error(`tritonVersion must look like '24.09', received '${tritonVersion}'`);
  const stack = Stack.of(scope);
  const region = stack.region;
  let account: string;
  if (Token.isUnresolved(region)) {
    account = accountMapping(stack).findInMap(Aws.REGION, 'account');
  } else {
    const known = TRITON_IMAGE_ACCOUNTS[region];
    if (known === undefined) {
      throw new Error(
        `no SageMaker Triton image is known for region '${region}' (stack ${stack.stackName}); ` +
          `known regions: ${Object.keys(TRITON_IMAGE_ACCOUNTS).join(', ')}. Deploy to one of them, or add the region's account to TRITON_IMAGE_ACCOUNTS in lib/sagemaker/triton-image.ts once checked`,
      );
    }
    account = known;
  }
  return {
    imageUri: `${account}.dkr.ecr.${region}.${Aws.URL_SUFFIX}/${TRITON_IMAGE_REPOSITORY}:${tritonVersion}-py3`,
    account,
    repositoryArn: `arn:${Aws.PARTITION}:ecr:${region}:${account}:repository/${TRITON_IMAGE_REPOSITORY}`,
  };
}
