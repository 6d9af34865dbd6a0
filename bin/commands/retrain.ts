// mlship retrain: runs the retrain state machine taken from the synthesized stack, locally
// (local/retrain/run-retrain.ts), over a labelled CSV file and/or the labelled production rows the local quality
// monitor left in <stateDir>/retrain-data/training-data/<model>/. A candidate that passes the gate is written to
// models/<name>/<new version>/; the comparison with the live model, on the held-out rows and on the newest
// labelled production window, is printed either way.
import { Command } from 'commander';
import type { LocalRetrainResult } from '../../local/retrain/run-retrain';
import { loadManifest, resolveManifestPath } from '../../lambdas/core/manifest/load';
import { action, USAGE_EXIT_CODE } from './common';

interface RetrainFlags {
  model: string;
  data?: string;
  manifest?: string;
  stateDir?: string;
}

const HELP = `
Data: the --data file and the labelled production rows that npm start's quality monitor writes to
<state-dir>/retrain-data/training-data/<model>/ (predictions whose inputs were captured and that got a label
through the feedback route); either is enough, and both are used when both are there.

Steps (the deployed state machine's): gather the rows (rows that cannot be used are listed, never
dropped silently), train a candidate of the live model's family on its split, evaluate candidate and live
model on the same held-out rows, and register the candidate only when its metric is at least the live
model's minus retrain.tolerance. Notifications go to the console and .mlship/alerts.jsonl.

Exit codes: 0 the run finished (registered or left alone by the gate), 1 a step failed, 2 a usage error.`;

function figure(x: number | undefined): string {
  return x === undefined ? '-' : x.toFixed(4);
}

type Figures = LocalRetrainEvaluation['live'];

/** Both models' figures as a table, live first. */
function figureTable(live: Figures, candidate: Figures, liveVersion: number, candidateVersion: number): string[] {
  const rows: [string, string, string][] = [
    ['accuracy', figure(live.accuracy), figure(candidate.accuracy)],
    ['macro F1', figure(live.macroF1), figure(candidate.macroF1)],
    ...(live.rocAuc !== undefined || candidate.rocAuc !== undefined ? [['ROC AUC', figure(live.rocAuc), figure(candidate.rocAuc)] as [string, string, string]] : []),
  ];
  return [
    `${'metric'.padEnd(10)}  ${`live v${liveVersion}`.padStart(10)}  ${`candidate v${candidateVersion}`.padStart(14)}`,
    ...rows.map(([name, l, c]) => `${name.padEnd(10)}  ${l.padStart(10)}  ${c.padStart(14)}`),
  ];
}

type LocalRetrainEvaluation = Extract<LocalRetrainResult, { evaluation: unknown }>['evaluation'];

/** 2026-12-07T05:00:00.000Z -> '2026-12-07 05:00'. */
const hour = (iso: string) => iso.slice(0, 16).replace('T', ' ');

/** The comparison a person reads, whatever the gate decided: on the held-out rows, then on the newest labelled production window. */
export function comparisonLines(result: LocalRetrainResult): string[] {
  if (result.status === 'failed') return [];
  const e = result.evaluation;
  const p = e.production;
  return [
    `held-out rows: ${e.heldOutRows}; gate: candidate ${e.metric} >= live ${figure(e.liveScore)} - tolerance ${e.tolerance} = ${figure(e.threshold)}`,
    '',
    ...figureTable(e.live, e.candidate, e.liveVersion, e.candidateVersion),
    '',
    ...(p
      ? [
          `latest labelled production window ${hour(p.from)} to ${hour(p.to)} UTC: ${p.rows} rows from ${p.key} (the candidate trained on ${p.trainedOn} of them; the gate decides on the held-out rows)`,
          '',
          ...figureTable(p.live, p.candidate, e.liveVersion, e.candidateVersion),
        ]
      : ['no labelled production rows among the gathered files: the gate judged on the held-out rows alone']),
  ];
}

export function retrainCommand(): Command {
  return new Command('retrain')
    .description('retrain a built-in model on a labelled CSV and the labelled production rows with the retrain state machine, locally; registers the candidate only when it passes the gate')
    .requiredOption('--model <name>', 'model name in the manifest (it needs a retrain block)')
    .option('--data <file>', "labelled CSV (or .csv.gz) with the model's features and its label column (default: only the labelled production rows under <state-dir>/retrain-data/)")
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
          ...(flags.data !== undefined ? { dataFile: flags.data } : {}),
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
