// mlship verify against RECORDED AWS answers (test/fixtures/recorded/), served on 127.0.0.1 to real SDK v3
// clients: lib/stack/verify.ts directly for every case, and the real executable (bin/mlship.mjs, pointed at the
// emulator by AWS_ENDPOINT_URL) for the matching and the failing cases, JSON and the exit codes.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { pascalCase } from '../../lib/stack/mlship-stack';
import { describeAwsError, stackOutputKeys, verifyDeployment, type VerifyModel, type VerifyReport } from '../../lib/stack/verify';
import { createFixtureProject } from '../fixtures/model-folder';
import { readRecorded, recordedClientSettings, startRecordedAws, type RecordedAws, type RecordedResponse } from '../fixtures/recorded-aws';

const MLSHIP = resolve(import.meta.dirname, '../../bin/mlship.mjs');

// The names in the recorded answers.
const FUNCTION = 'mlship-dev-BreastCancerModelFunction8E1A2B3C-Ab12Cd34Ef56';
const OLD_CONFIG = 'mlship-dev-digits-config-3f9a1c2';
const NEW_CONFIG = 'mlship-dev-digits-config-8b7e4d1';
const STACK = 'DescribeStacks mlship-dev';
const ALIAS = `GetAlias ${FUNCTION} live`;
const ENDPOINT = 'DescribeEndpoint mlship-dev-digits';

/** Everything live as the stack intends: breast-cancer's alias on 7, digits InService on the new config. */
const MATCHING: Record<string, string | RecordedResponse> = {
  [STACK]: 'cloudformation/describe-stacks-mlship-dev.http',
  [ALIAS]: 'lambda/get-alias-live-7.http',
  [ENDPOINT]: 'sagemaker/describe-endpoint-in-service.http',
};

const MODELS: readonly VerifyModel[] = [
  { name: 'breast-cancer', runtime: 'lambda' },
  { name: 'digits', runtime: 'sagemaker' },
];

/** A recorded answer with one text replaced in its body (a variant not worth a file of its own). */
function edited(file: string, from: string, to: string): RecordedResponse {
  const recorded = readRecorded(file);
  assert.ok(recorded.body.includes(from), `${file} contains ${from}`);
  return { ...recorded, body: recorded.body.replace(from, to) };
}

async function verifyWith(answers: Record<string, string | RecordedResponse>, models: readonly VerifyModel[] = MODELS): Promise<{ report: VerifyReport; aws: RecordedAws }> {
  const aws = await startRecordedAws(answers);
  try {
    const settings = recordedClientSettings(aws);
    const report = await verifyDeployment('mlship-dev', models, {
      cloudFormation: new CloudFormationClient(settings),
      lambda: new LambdaClient(settings),
      sageMaker: new SageMakerClient(settings),
    });
    return { report, aws };
  } finally {
    await aws.close();
  }
}

function model(report: VerifyReport, name: string) {
  const found = report.models.find((m) => m.model === name);
  assert.ok(found, `a check for ${name}`);
  return found;
}

describe('verifyDeployment (lib/stack/verify.ts) against recorded answers', () => {
  it('everything as the stack intends: ok, with what each model is on', async () => {
    const { report, aws } = await verifyWith(MATCHING);
    assert.deepEqual(report, {
      ok: true,
      stack: { name: 'mlship-dev', region: 'us-east-1', status: 'UPDATE_COMPLETE', ok: true },
      models: [
        { model: 'breast-cancer', runtime: 'lambda', ok: true, resource: FUNCTION, expected: '7', actual: '7' },
        { model: 'digits', runtime: 'sagemaker', ok: true, resource: 'mlship-dev-digits', expected: NEW_CONFIG, actual: NEW_CONFIG, status: 'InService' },
      ],
    });
    assert.deepEqual(
      aws.calls.map((c) => [c.service, c.key, c.region]),
      [
        ['cloudformation', STACK, 'us-east-1'],
        ['lambda', ALIAS, 'us-east-1'],
        ['sagemaker', ENDPOINT, 'us-east-1'],
      ],
    );
  });

  it('SageMaker rolled back silently: InService on the old config is a difference naming both configs', async () => {
    const { report } = await verifyWith({ ...MATCHING, [ENDPOINT]: 'sagemaker/describe-endpoint-rolled-back.http' });
    assert.equal(report.ok, false);
    assert.equal(model(report, 'breast-cancer').ok, true);
    const digits = model(report, 'digits');
    assert.deepEqual([digits.ok, digits.status, digits.expected, digits.actual], [false, 'InService', NEW_CONFIG, OLD_CONFIG]);
    assert.equal(digits.problem, `endpoint mlship-dev-digits InService on ${OLD_CONFIG}, expected ${NEW_CONFIG} (rolled back?)`);
  });

  it('an endpoint still Updating is not settled: the config it is on and the one it moves to', async () => {
    const { report } = await verifyWith({ ...MATCHING, [ENDPOINT]: 'sagemaker/describe-endpoint-updating.http' });
    const digits = model(report, 'digits');
    assert.deepEqual([report.ok, digits.ok, digits.status], [false, false, 'Updating']);
    assert.equal(digits.problem, `endpoint mlship-dev-digits is Updating (on ${OLD_CONFIG}, moving to ${NEW_CONFIG}; expected ${NEW_CONFIG}): a deployment is still in progress, run verify when it ends`);
  });

  it('an endpoint RollingBack says the update failed', async () => {
    const rollingBack = edited('sagemaker/describe-endpoint-updating.http', '"EndpointStatus":"Updating"', '"EndpointStatus":"RollingBack"');
    const { report } = await verifyWith({ ...MATCHING, [ENDPOINT]: rollingBack });
    assert.match(model(report, 'digits').problem!, /^endpoint mlship-dev-digits is RollingBack \(on mlship-dev-digits-config-3f9a1c2, moving to mlship-dev-digits-config-8b7e4d1; expected mlship-dev-digits-config-8b7e4d1\): the update failed and goes back to the old config$/);
  });

  it('a Failed endpoint gives its FailureReason', async () => {
    const { report } = await verifyWith({ ...MATCHING, [ENDPOINT]: 'sagemaker/describe-endpoint-failed.http' });
    const digits = model(report, 'digits');
    assert.deepEqual([report.ok, digits.ok, digits.status, digits.actual], [false, false, 'Failed', NEW_CONFIG]);
    assert.equal(
      digits.problem,
      `endpoint mlship-dev-digits is Failed (on ${NEW_CONFIG}; expected ${NEW_CONFIG}): The primary container for production variant AllTraffic did not pass the ping health check. Please check CloudWatch logs for this endpoint.`,
    );
  });

  it('CodeDeploy rolled back: the alias on the old version is a difference naming both versions', async () => {
    const { report } = await verifyWith({ ...MATCHING, [ALIAS]: 'lambda/get-alias-live-6.http' });
    const bc = model(report, 'breast-cancer');
    assert.deepEqual([report.ok, bc.ok, bc.expected, bc.actual], [false, false, '7', '6']);
    assert.equal(bc.problem, 'live -> 6, expected 7 (rolled back by CodeDeploy?)');
    assert.equal(model(report, 'digits').ok, true);
  });

  it('an alias still weighted between two versions is not settled', async () => {
    const { report } = await verifyWith({ ...MATCHING, [ALIAS]: 'lambda/get-alias-live-6-shifting-to-7.http' });
    const bc = model(report, 'breast-cancer');
    assert.deepEqual([bc.ok, bc.actual, bc.additionalVersionWeights], [false, '6', { 7: 0.1 }]);
    assert.equal(bc.problem, 'live is split: 90% on 6, 10% on 7; expected all on 7 (a CodeDeploy deployment is still shifting traffic)');
  });

  it('an alias on a newer version than the stack says is a difference too', async () => {
    const newer = edited('lambda/get-alias-live-7.http', '"FunctionVersion":"7"', '"FunctionVersion":"9"');
    const { report } = await verifyWith({ ...MATCHING, [ALIAS]: newer });
    assert.equal(model(report, 'breast-cancer').problem, 'live -> 9, expected 7 (moved outside the stack?)');
  });

  it('a missing stack: one clear problem, no model calls', async () => {
    const { report, aws } = await verifyWith({ [STACK]: 'cloudformation/describe-stacks-does-not-exist.http' });
    assert.deepEqual(report, {
      ok: false,
      stack: { name: 'mlship-dev', region: 'us-east-1', ok: false, problem: 'stack mlship-dev does not exist in us-east-1: deploy it first (npx cdk deploy), or name it with --stack, --stage or --region' },
      models: [],
    });
    assert.deepEqual(aws.calls.map((c) => c.key), [STACK]);
  });

  it('a stack deployed by an older mlship (no LiveVersion output, digits still on Lambda): clear problems, no model calls', async () => {
    const { report, aws } = await verifyWith({ [STACK]: 'cloudformation/describe-stacks-older-mlship.http' });
    assert.equal(report.ok, false);
    assert.equal(report.stack.ok, true);
    assert.equal(
      model(report, 'breast-cancer').problem,
      'stack mlship-dev has no output BreastCancerLiveVersion, so it does not say which version should be live (deployed by an older mlship?): deploy again with this one',
    );
    assert.equal(
      model(report, 'digits').problem,
      'the manifest says sagemaker, but stack mlship-dev serves it on Lambda (output DigitsFunctionName = mlship-dev-DigitsModelFunction5D4C3B2A-Gh78Ij90Kl12): deploy the manifest first',
    );
    assert.deepEqual(aws.calls.map((c) => c.key), [STACK]);
  });

  it('an output missing for one model: the endpoint config, or the model not in the stack at all', async () => {
    const noConfig = edited('cloudformation/describe-stacks-mlship-dev.http', '<OutputKey>DigitsEndpointConfigName</OutputKey>', '<OutputKey>DigitsSomethingElse</OutputKey>');
    const { report } = await verifyWith({ ...MATCHING, [STACK]: noConfig }, [...MODELS, { name: 'churn', runtime: 'lambda' }, { name: 'big-llm', runtime: 'sagemaker' }]);
    assert.equal(model(report, 'breast-cancer').ok, true);
    assert.equal(model(report, 'digits').problem, 'stack mlship-dev has no output DigitsEndpointConfigName, so it does not say which endpoint config should be live (deployed by an older mlship?): deploy again with this one');
    assert.equal(model(report, 'churn').problem, 'not in stack mlship-dev (no output ChurnFunctionName): deploy the manifest first, or name the right stack');
    assert.equal(model(report, 'big-llm').problem, 'not in stack mlship-dev (no output BigLlmEndpointName): deploy the manifest first, or name the right stack');
  });

  it('a model the manifest moved back to Lambda, still on SageMaker in the stack: named as such, though its proxy has a FunctionName', async () => {
    const { report, aws } = await verifyWith({ [STACK]: 'cloudformation/describe-stacks-mlship-dev.http' }, [{ name: 'digits', runtime: 'lambda' }]);
    assert.match(model(report, 'digits').problem ?? '', /^the manifest says lambda, but stack mlship-dev serves it on SageMaker \(output DigitsEndpointName = mlship-dev-digits\): deploy the manifest first$/);
    assert.deepEqual(aws.calls.map((c) => c.key), [STACK], 'no GetAlias on the proxy function');
  });

  it('a stack whose last update rolled back is not settled, and its models are still checked', async () => {
    const rolledBack = edited('cloudformation/describe-stacks-mlship-dev.http', '<StackStatus>UPDATE_COMPLETE</StackStatus>', '<StackStatus>UPDATE_ROLLBACK_COMPLETE</StackStatus>');
    const { report } = await verifyWith({ ...MATCHING, [STACK]: rolledBack });
    assert.deepEqual([report.ok, report.stack.ok, report.stack.status], [false, false, 'UPDATE_ROLLBACK_COMPLETE']);
    assert.equal(report.stack.problem, 'stack mlship-dev is UPDATE_ROLLBACK_COMPLETE: its last update was rolled back, so it still describes the deploy before that');
    assert.deepEqual(report.models.map((m) => m.ok), [true, true]);
  });

  it('a stack update still in progress is not settled', async () => {
    const inProgress = edited('cloudformation/describe-stacks-mlship-dev.http', '<StackStatus>UPDATE_COMPLETE</StackStatus>', '<StackStatus>UPDATE_IN_PROGRESS</StackStatus><StackStatusReason>User Initiated</StackStatusReason>');
    const { report } = await verifyWith({ ...MATCHING, [STACK]: inProgress });
    assert.equal(report.stack.problem, 'stack mlship-dev is UPDATE_IN_PROGRESS (User Initiated): a deploy or rollback is still running; run verify when it ends');
  });

  it('access denied and throttling on DescribeStacks: one line each, naming the permissions or saying to retry', async () => {
    const denied = await verifyWith({ [STACK]: 'cloudformation/describe-stacks-access-denied.http' });
    assert.equal(
      denied.report.stack.problem,
      'DescribeStacks mlship-dev: access denied (User: arn:aws:sts::123456789012:assumed-role/ci-deployer/gha-4711 is not authorized to perform: cloudformation:DescribeStacks on resource: arn:aws:cloudformation:us-east-1:123456789012:stack/mlship-dev/* because no identity-based policy allows the cloudformation:DescribeStacks action); mlship verify needs cloudformation:DescribeStacks, lambda:GetAlias, sagemaker:DescribeEndpoint',
    );
    const throttled = await verifyWith({ [STACK]: 'cloudformation/describe-stacks-throttled.http' });
    assert.equal(throttled.report.stack.problem, 'DescribeStacks mlship-dev: throttled by AWS (Throttling: Rate exceeded); run verify again in a moment');
    assert.deepEqual(throttled.report.models, []);
  });

  it('GetAlias: access denied, throttled, or no such alias', async () => {
    const denied = await verifyWith({ ...MATCHING, [ALIAS]: 'lambda/get-alias-access-denied.http' });
    assert.match(model(denied.report, 'breast-cancer').problem!, /^GetAlias mlship-dev-BreastCancerModelFunction8E1A2B3C-Ab12Cd34Ef56:live: access denied \(User: .* is not authorized to perform: lambda:GetAlias .*\); mlship verify needs cloudformation:DescribeStacks, lambda:GetAlias, sagemaker:DescribeEndpoint$/);
    assert.equal(model(denied.report, 'digits').ok, true, 'the other model is still checked');
    const throttled = await verifyWith({ ...MATCHING, [ALIAS]: 'lambda/get-alias-throttled.http' });
    assert.equal(model(throttled.report, 'breast-cancer').problem, `GetAlias ${FUNCTION}:live: throttled by AWS (TooManyRequestsException: Rate exceeded); run verify again in a moment`);
    const missing = await verifyWith({ ...MATCHING, [ALIAS]: 'lambda/get-alias-not-found.http' });
    assert.equal(
      model(missing.report, 'breast-cancer').problem,
      `GetAlias ${FUNCTION}:live: no such function or alias (Alias not found: arn:aws:lambda:us-east-1:123456789012:function:${FUNCTION}:live): was it deleted outside the stack?`,
    );
    assert.equal(model(missing.report, 'breast-cancer').expected, '7');
  });

  it('DescribeEndpoint: no such endpoint, or throttled', async () => {
    const missing = await verifyWith({ ...MATCHING, [ENDPOINT]: 'sagemaker/describe-endpoint-not-found.http' });
    assert.equal(model(missing.report, 'digits').problem, 'endpoint mlship-dev-digits does not exist (deleted outside the stack?)');
    const throttled = await verifyWith({ ...MATCHING, [ENDPOINT]: 'sagemaker/describe-endpoint-throttled.http' });
    assert.equal(model(throttled.report, 'digits').problem, 'DescribeEndpoint mlship-dev-digits: throttled by AWS (ThrottlingException: Rate exceeded); run verify again in a moment');
  });

  it('AWS out of reach: one line, not a stack trace', async () => {
    const aws = await startRecordedAws();
    await aws.close();
    const settings = recordedClientSettings(aws);
    const report = await verifyDeployment('mlship-dev', MODELS, { cloudFormation: new CloudFormationClient(settings), lambda: new LambdaClient(settings), sageMaker: new SageMakerClient(settings) });
    assert.match(report.stack.problem!, /^DescribeStacks mlship-dev: could not reach AWS \(ECONNREFUSED: .*\)$/);
  });

  it('describeAwsError: missing credentials, no region, an unknown service error', () => {
    const credentials = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
    assert.equal(describeAwsError('DescribeStacks s', credentials), 'DescribeStacks s: no AWS credentials found (Could not load credentials from any providers); set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
    assert.equal(describeAwsError('DescribeStacks s', new Error('Region is missing')), 'DescribeStacks s: no AWS region; pass --region or set AWS_REGION');
    const refused = Object.assign(new Error('The security token included in the request is invalid.'), { name: 'UnrecognizedClientException', $metadata: { httpStatusCode: 403 } });
    assert.equal(describeAwsError('GetAlias f:live', refused), 'GetAlias f:live: AWS refused the credentials (UnrecognizedClientException: The security token included in the request is invalid.)');
    const other = Object.assign(new Error('We encountered an internal error.\nPlease try again.'), { name: 'ServiceException', $metadata: { httpStatusCode: 500 } });
    assert.equal(describeAwsError('GetAlias f:live', other), 'GetAlias f:live failed (ServiceException: We encountered an internal error.)');
  });

  it('stackOutputKeys names the outputs as the stack does (pascalCase of the model name)', () => {
    assert.deepEqual(stackOutputKeys('breast-cancer'), {
      functionName: 'BreastCancerFunctionName',
      liveVersion: 'BreastCancerLiveVersion',
      endpointName: 'BreastCancerEndpointName',
      endpointConfigName: 'BreastCancerEndpointConfigName',
    });
    assert.equal(stackOutputKeys('digits').endpointConfigName, `${pascalCase('digits')}EndpointConfigName`);
  });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('mlship verify (the real executable, AWS_ENDPOINT_URL at the recorded answers)', () => {
  // The shipped manifest's shape: breast-cancer on Lambda, digits on SageMaker; project mlship, stage dev.
  const project = createFixtureProject({
    manifest: {
      project: 'mlship',
      stage: 'dev',
      models: [
        { name: 'breast-cancer', version: 1, runtime: 'lambda' },
        { name: 'digits', version: 1, runtime: 'sagemaker' },
      ],
    },
  });
  after(() => project.cleanup());

  /** Runs mlship with only dummy credentials and the emulator: nothing from this machine's AWS settings. */
  function mlship(args: string[], aws: { url: string }, env: Record<string, string> = {}): Promise<Run> {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_')));
    const awsEnv = {
      AWS_ENDPOINT_URL: aws.url,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
      AWS_CONFIG_FILE: resolve(project.root, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: resolve(project.root, 'no-aws-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
    };
    return new Promise((done) => {
      execFile(process.execPath, [MLSHIP, 'verify', '--manifest', project.manifestPath, ...args], { cwd: project.root, env: { ...clean, ...awsEnv, ...env, MLSHIP_DEBUG: '' } }, (error, stdout, stderr) => {
        done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
      });
    });
  }

  async function withAws<T>(answers: Record<string, string | RecordedResponse>, fn: (aws: RecordedAws) => Promise<T>): Promise<T> {
    const aws = await startRecordedAws(answers);
    try {
      return await fn(aws);
    } finally {
      await aws.close();
    }
  }

  function assertNoTrace(run: Run): void {
    assert.ok(!/^\s+at /m.test(run.stderr + run.stdout), `no stack trace in: ${run.stderr}`);
  }

  it('everything matches: one ok line per model, exit 0', async () => {
    const run = await withAws(MATCHING, (aws) => mlship([], aws));
    assert.equal(run.code, 0, run.stderr);
    assert.equal(
      run.stdout,
      [
        'ok    stack mlship-dev (us-east-1): UPDATE_COMPLETE',
        'ok    breast-cancer  lambda     live -> 7',
        `ok    digits         sagemaker  endpoint mlship-dev-digits InService on ${NEW_CONFIG}`,
        'all 2 models are live as stack mlship-dev intends',
        '',
      ].join('\n'),
    );
    assertNoTrace(run);
  });

  it('SageMaker rolled back and the alias on the old version: exit 1, both differences named', async () => {
    const run = await withAws({ ...MATCHING, [ALIAS]: 'lambda/get-alias-live-6.http', [ENDPOINT]: 'sagemaker/describe-endpoint-rolled-back.http' }, (aws) => mlship([], aws));
    assert.equal(run.code, 1, run.stderr);
    assert.equal(
      run.stdout,
      [
        'ok    stack mlship-dev (us-east-1): UPDATE_COMPLETE',
        'FAIL  breast-cancer  lambda     live -> 6, expected 7 (rolled back by CodeDeploy?)',
        `FAIL  digits         sagemaker  endpoint mlship-dev-digits InService on ${OLD_CONFIG}, expected ${NEW_CONFIG} (rolled back?)`,
        '',
      ].join('\n'),
    );
    assert.match(run.stderr, /^error: 2 of 2 models differ from what stack mlship-dev intends \(breast-cancer, digits\)$/m);
    assertNoTrace(run);
  });

  it('--json prints the report; exit 1 when a model differs', async () => {
    const run = await withAws({ ...MATCHING, [ALIAS]: 'lambda/get-alias-live-6-shifting-to-7.http' }, (aws) => mlship(['--json'], aws));
    assert.equal(run.code, 1, run.stderr);
    const report = JSON.parse(run.stdout) as VerifyReport;
    assert.equal(report.ok, false);
    assert.deepEqual(
      report.models.map((m) => [m.model, m.ok, m.expected, m.actual]),
      [
        ['breast-cancer', false, '7', '6'],
        ['digits', true, NEW_CONFIG, NEW_CONFIG],
      ],
    );
    assert.match(report.models[0]!.problem!, /^live is split: 90% on 6, 10% on 7/);
  });

  it('a missing stack: one error line, exit 1', async () => {
    const run = await withAws({ [STACK]: 'cloudformation/describe-stacks-does-not-exist.http' }, (aws) => mlship([], aws));
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^error: stack mlship-dev does not exist in us-east-1: deploy it first \(npx cdk deploy\), or name it with --stack, --stage or --region$/m);
    assertNoTrace(run);
  });

  it('--stage, --stack and --region choose the stack and the region the calls are signed for', async () => {
    const prod = await withAws({ ...MATCHING, 'DescribeStacks mlship-prod': 'cloudformation/describe-stacks-mlship-dev.http' }, async (aws) => {
      const run = await mlship(['--stage', 'prod', '--region', 'eu-west-1'], aws);
      return { run, calls: aws.calls };
    });
    assert.equal(prod.run.code, 0, prod.run.stderr);
    assert.deepEqual(prod.calls.map((c) => [c.key, c.region]), [
      ['DescribeStacks mlship-prod', 'eu-west-1'],
      [ALIAS, 'eu-west-1'],
      [ENDPOINT, 'eu-west-1'],
    ]);
    const named = await withAws({ ...MATCHING, 'DescribeStacks models-blue': 'cloudformation/describe-stacks-mlship-dev.http' }, async (aws) => {
      const run = await mlship(['--stack', 'models-blue'], aws);
      return { run, calls: aws.calls };
    });
    assert.equal(named.run.code, 0, named.run.stderr);
    assert.equal(named.calls[0]!.key, 'DescribeStacks models-blue');
  });

  it('usage errors exit 2; --help documents the exit codes and exits 0', async () => {
    const aws = { url: 'http://127.0.0.1:9' };
    const [unknown, noValue, both, help] = await Promise.all([
      mlship(['--colour'], aws),
      mlship(['--stage'], aws),
      mlship(['--stack', 'a', '--stage', 'b'], aws),
      mlship(['--help'], aws),
    ]);
    assert.deepEqual([unknown.code, noValue.code, both.code], [2, 2, 2]);
    assert.match(unknown.stderr, /^error: unknown option '--colour'$/m);
    assert.match(noValue.stderr, /^error: option '--stage <stage>' argument missing$/m);
    assert.match(both.stderr, /^error: option '--stack <name>' cannot be used with option '--stage <stage>'$/m);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /Exit codes:\n {2}0 {2}every model is live as the stack intends\n {2}1 {2}a difference/);
    assert.match(help.stdout, /\n {2}2 {2}a usage error/);
  });
});
