// The runtime of the zip-packaged functions (hook, proxy, alert formatter, summarise, register): Node.js 22,
// the same major as the container images' base (public.ecr.aws/lambda/nodejs:22) and the bundles' esbuild
// target (node22), so every function of the stack runs the Node version the tests run the code with.
// cdk-nag's L1 asks for the newest runtime CDK knows (Node.js 24); Node.js 22 is supported by Lambda until
// 2027, and moving every function, images included, is one change here and in model-image.ts.
import { Validations } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';

export const ZIP_FUNCTION_RUNTIME = lambda.Runtime.NODEJS_22_X;

/** Acknowledges cdk-nag's L1 on one zip function that runs ZIP_FUNCTION_RUNTIME. */
export function acknowledgeRuntime(fn: lambda.Function): void {
  Validations.of(fn).acknowledge({
    id: 'AwsSolutions-L1',
    reason: 'Node.js 22 on purpose: the same major as the container images (public.ecr.aws/lambda/nodejs:22) and the bundles\' esbuild target, supported by Lambda until 2027; one constant (lib/private/runtime.ts) moves every zip function',
  });
}
