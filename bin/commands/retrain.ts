// mlship retrain: runs the retrain state machine taken from the synthesized stack, locally
// (local/retrain/run-retrain.ts), over one labelled CSV file. A candidate that passes the gate is written to
// models/<name>/<new version>/; the comparison with the live model is printed either way.
import { Command } from 'commander';
import type { LocalRetrainResult } from '../../local/retrain/run-retrain';
import { loadManifest, resolveManifestPath } from '../../lambdas/core/manifest/load';
import { action, USAGE_EXIT_CODE } from './common';

interface RetrainFlags {
  model: string;
  data: string;
  manifest?: string;
  stateDir?: string;
}

const HELP = `
Steps (the deployed state machine's): gather the rows (rows that cannot be used are listed, never
dropped silently), train a candidate of the live model's family on its split, evaluate candidate and live
model on the same held-out rows, and register the candidate only when its metric is at least the live
model's minus retrain.tolerance. Notifications go to the console and .mlship/alerts.jsonl.

Exit codes: 0 the run finished (registered or left alone by the gate), 1 a step failed, 2 a usage error.`;

function figure(x: number | undefined): string {
  return x === undefined ? '-' : x.toFixed(4);
}

/** The comparison a person reads, whatever the gate decided. */
export function comparisonLines(result: LocalRetrainResult): string[] {
  if (result.status === 'failed') return [];
  const e = result.evaluation;
  const rows: [string, string, string][] = [
    ['accuracy', figure(e.live.accuracy), figure(e.candidate.accuracy)],
    ['macro F1', figure(e.live.macroF1), figure(e.candidate.macroF1)],
    ...(e.live.rocAuc !== undefined || e.candidate.rocAuc !== undefined ? [['ROC AUC', figure(e.live.rocAuc), figure(e.candidate.rocAuc)] as [string, string, string]] : []),
  ];
  return [
    `held-out rows: ${e.heldOutRows}; gate: candidate ${e.metric} >= live ${figure(e.liveScore)} - tolerance ${e.tolerance} = ${figure(e.threshold)}`,
    '',
    `${'metric'.padEnd(10)}  ${`live v${e.liveVersion}`.padStart(10)}  ${`candidate v${e.candidateVersion}`.padStart(14)}`,
    ...rows.map(([name, live, candidate]) => `${name.padEnd(10)}  ${live.padStart(10)}  ${candidate.padStart(14)}`),
  ];
}

export function retrainCommand(): Command {
  return new Command('retrain')
    .description('retrain a built-in model on a labelled CSV with the retrain state machine, locally; registers the candidate only when it passes the gate')
    .requiredOption('--model <name>', 'model name in the manifest (it needs a retrain block)')
    .requiredOption('--data <file>', 'labelled CSV (or .csv.gz) with the model\'s features and its label column')
    .option('--manifest <file>', 'the manifest (default: models/manifest.yaml)')
    .option('--state-dir <dir>', 'where alerts, the candidate parameter and the work files go (default: .mlship)')
    .addHelpText('after', HELP)
    // A command line that cannot run as written (an unknown or missing flag) exits 2, as the help says.
    .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : USAGE_EXIT_CODE))
    .action(
      action(async (flags: RetrainFlags) => {
        const loaded = loadManifest(resolveManifestPath(flags.manifest));
        // The runner (CDK, the engine, the trainers) is loaded when a retrain runs, not with every command.
        const { retrainLocally } = await import('../../local/retrain/run-retrain');
        const result = await retrainLocally({
          loaded,
          model: flags.model,
          dataFile: flags.data,
          ...(flags.stateDir ? { stateDir: flags.stateDir } : {}),
          onNotification: (n) => process.stderr.write(`notification (${n.state}): ${n.subject}\n`),
        });
        const lines = comparisonLines(result);
        if (result.status === 'registered') {
          lines.push('', `registered ${flags.model} v${result.registered.version} in ${result.dir}`, '', result.registered.message);
        } else if (result.status === 'rejected') {
          lines.push('', `the live model is left alone: ${result.evaluation.rejectedMessage}`);
        } else {
          lines.push(`retraining ${flags.model} failed${result.step ? ` at the step ${result.step}` : ''}: ${result.error}`, ...result.notifications.map((n) => `\n${n.subject}\n${n.message}`));
          process.exitCode = 1;
        }
        process.stdout.write(`${lines.join('\n')}\n`);
      }),
    );
}
