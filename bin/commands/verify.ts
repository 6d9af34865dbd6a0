// mlship verify: after a cloud deploy, checks that every model is really live as the stack intends (each
// Lambda model's `live` alias on the stack's version, each SageMaker endpoint InService on the stack's
// endpoint config). The checks are lib/stack/verify.ts; this file parses flags, makes the clients and prints.
import { Command, Option } from 'commander';
import { loadManifest, resolveManifestPath } from '../../lambdas/core/manifest/load';
import { LIVE_ALIAS, stackName } from '../../lib/stack/stack-names';
import type { VerifyReport } from '../../lib/stack/verify';
import { action, USAGE_EXIT_CODE } from './common';

interface VerifyFlags {
  stage?: string;
  manifest?: string;
  stack?: string;
  region?: string;
  json?: boolean;
}


const EXIT_CODES = `
Exit codes:
  0  every model is live as the stack intends
  1  a difference (listed), a deployment still in progress, a stack that is missing or not settled,
     an AWS call that failed (access denied, throttled), or a manifest that does not load
  2  a usage error: an unknown flag or a flag without its value

Needs cloudformation:DescribeStacks, lambda:GetAlias and sagemaker:DescribeEndpoint; credentials and
region come from the AWS SDK's usual chain (AWS_PROFILE, AWS_ACCESS_KEY_ID..., AWS_REGION) unless --region.`;

/** Lines for people: the stack, then one per model, `ok    breast-cancer  lambda     live -> 7` or FAIL and the difference. */
export function formatReport(report: VerifyReport): string[] {
  const { stack } = report;
  const lines = [stack.ok ? `ok    stack ${stack.name}${stack.region ? ` (${stack.region})` : ''}: ${stack.status}` : `FAIL  ${stack.problem}`];
  const width = Math.max(0, ...report.models.map((m) => m.model.length));
  for (const m of report.models) {
    const what = !m.ok ? m.problem : m.runtime === 'lambda' ? `${LIVE_ALIAS} -> ${m.actual}` : `endpoint ${m.resource} InService on ${m.actual}`;
    lines.push(`${m.ok ? 'ok  ' : 'FAIL'}  ${m.model.padEnd(width)}  ${m.runtime.padEnd(9)}  ${what}`);
  }
  return lines;
}

/** The one-line verdict for a report that is not ok (stderr), or for one that is (stdout). */
export function verdict(report: VerifyReport): string {
  const failed = report.models.filter((m) => !m.ok).map((m) => m.model);
  if (report.ok) return `all ${report.models.length} models are live as stack ${report.stack.name} intends`;
  const models = failed.length > 0 ? `${failed.length} of ${report.models.length} models differ from what stack ${report.stack.name} intends (${failed.join(', ')})` : '';
  const stack = report.stack.ok ? '' : `stack ${report.stack.name} is not settled`;
  return [stack, models].filter(Boolean).join('; ');
}

export function verifyCommand(): Command {
  return new Command('verify')
    .description('after a cloud deploy: check that each Lambda model\'s live alias and each SageMaker endpoint run what the stack intends')
    .option('--stage <stage>', "stage of the stack <project>-<stage> (default: the manifest's stage)")
    .option('--manifest <file>', 'the manifest (default: models/manifest.yaml)')
    .addOption(new Option('--stack <name>', 'the stack name (default: <project>-<stage> from the manifest)').conflicts('stage'))
    .option('--region <region>', "AWS region (default: the SDK's usual resolution, e.g. AWS_REGION or the profile's)")
    .option('--json', 'print the report as JSON ({ ok, stack, models: [{ model, runtime, ok, expected, actual, problem }] })')
    .addHelpText('after', EXIT_CODES)
    // commander exits 1 for a bad command line; verify keeps 1 for "not as intended" and uses 2 for usage.
    .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : USAGE_EXIT_CODE))
    .action(
      action(async (flags: VerifyFlags) => {
        const { manifest, models } = loadManifest(resolveManifestPath(flags.manifest));
        const name = flags.stack ?? stackName(manifest.project, flags.stage ?? manifest.stage);
        const config = flags.region ? { region: flags.region } : {};
        // Loaded when verify runs, not with every command.
        const [{ CloudFormationClient }, { LambdaClient }, { SageMakerClient }, { verifyDeployment }] = await Promise.all([import('@aws-sdk/client-cloudformation'), import('@aws-sdk/client-lambda'), import('@aws-sdk/client-sagemaker'), import('../../lib/stack/verify')]);
        const report = await verifyDeployment(
          name,
          models.map((m) => ({ name: m.entry.name, runtime: m.entry.runtime })),
          { cloudFormation: new CloudFormationClient(config), lambda: new LambdaClient(config), sageMaker: new SageMakerClient(config) },
        );
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        } else {
          // A stack that cannot be read has no model lines: its problem is the one error line.
          if (report.stack.status === undefined) throw new Error(report.stack.problem);
          process.stdout.write(`${formatReport(report).join('\n')}\n`);
          if (report.ok) process.stdout.write(`${verdict(report)}\n`);
          else process.stderr.write(`error: ${verdict(report)}\n`);
        }
        if (!report.ok) process.exitCode = 1;
      }),
    );
}
