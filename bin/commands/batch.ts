// mlship batch: scores a CSV or JSON Lines file (or a folder of them) with the batch state machine taken
// from the synthesized stack, run locally (local/batch/run-batch.ts); prints the same summary as the cloud
// run's notification. The progress bar goes to stderr, and only when stderr is a terminal.
import { availableParallelism } from 'node:os';
import { SingleBar } from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { LocalBatchProgress } from '../../local/batch/run-batch';
import { loadManifest, resolveManifestPath } from '../../lambdas/core/manifest/load';
import { action, parseInteger, parsePositiveInteger, USAGE_EXIT_CODE } from './common';

interface BatchFlags {
  model: string;
  input: string;
  output: string;
  manifest?: string;
  format?: 'csv' | 'jsonl';
  concurrency?: number;
  keepWork?: boolean;
  explain?: number;
}

function parseTopK(value: string): number {
  const n = parseInteger(value);
  if (n < 0) throw new InvalidArgumentError('must be 0 or more.');
  return n;
}

const HELP = `
Outputs in --output: scored.csv (row, id, label, p_<class>... in input order), rejects.jsonl (one line per
row that could not be scored: {"row", "reason", "input"}) and summary.json (rows in = scored + rejected).
Row numbers count data rows from 1 across the input files, in name order. With --explain K each scored
row also gets its K largest feature attributions (explain_<i>_feature, explain_<i>_value, largest
|value| first), explain_method (the method and the output space: the log-odds of the predicted class
for a built-in logistic regression, the probability of the predicted class or the predicted value for
permutation SHAP) and explain_base (the base value: attributions of all features plus it give that
output). It needs the model version's background sample (written by mlship train and mlship import);
K is at most the model's feature count. The run is the batch state
machine that \`cdk deploy\` deploys, executed locally with the same handler code.

Exit codes: 0 the run finished (rejected rows are not a failure), 1 the run failed (the reason is printed),
2 a usage error.`;

/** A progress bar on a terminal; nothing otherwise (CI logs stay readable). */
function progressReporter(): { update: (p: LocalBatchProgress) => void; stop: () => void } {
  if (!process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new SingleBar({ stream: process.stderr, format: '{phase} [{bar}] {percentage}% | {value}/{total} rows | {eta_formatted} left', hideCursor: true });
  let started = false;
  return {
    update: (p) => {
      if (p.phase !== 'score') {
        if (!started) process.stderr.write(`${p.phase}...\n`);
        return;
      }
      if (!started) {
        bar.start(p.rowsIn, 0, { phase: 'scoring' });
        started = true;
      }
      bar.update(p.rowsDone + p.rowsFailed);
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

export function batchCommand(): Command {
  return new Command('batch')
    .description('score a file or folder of rows with the batch state machine, locally')
    .requiredOption('--model <name>', 'model name in the manifest (its version there scores)')
    .requiredOption('--input <path>', 'a CSV or JSON Lines file (.gz too), or a folder of them')
    .requiredOption('--output <dir>', 'folder for scored.csv, rejects.jsonl and summary.json')
    .option('--manifest <file>', 'the manifest (default: models/manifest.yaml)')
    .addOption(new Option('--format <format>', 'the rows\' format (default: from the file names)').choices(['csv', 'jsonl']))
    .option('--concurrency <n>', `most threads scoring batches: this one and up to n - 1 workers, one per 48 MiB of input (default: ${availableParallelism()}, the cores)`, parsePositiveInteger)
    .option('--keep-work', 'keep the work files (rows, parts, map results) after a successful run')
    .option('--explain <k>', "add each scored row's k largest feature attributions as columns (default: the manifest's batch.explainTopK; 0: none)", parseTopK)
    .addHelpText('after', HELP)
    // A command line that cannot run as written (an unknown or missing flag) exits 2, as the help says.
    .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : USAGE_EXIT_CODE))
    .action(
      action(async (flags: BatchFlags) => {
        const loaded = loadManifest(resolveManifestPath(flags.manifest));
        // The runner (CDK, the engine) is loaded when a batch runs, not with every command.
        const { LocalBatchError, runLocalBatch } = await import('../../local/batch/run-batch');
        const progress = progressReporter();
        let result;
        try {
          result = await runLocalBatch({
            loaded,
            model: flags.model,
            input: flags.input,
            output: flags.output,
            ...(flags.format ? { format: flags.format } : {}),
            ...(flags.concurrency ? { concurrency: flags.concurrency } : {}),
            ...(flags.explain !== undefined ? { explainTopK: flags.explain } : {}),
            keepWork: flags.keepWork === true,
            onProgress: progress.update,
          });
        } catch (error) {
          progress.stop();
          if (error instanceof LocalBatchError) throw new Error(error.message);
          throw error;
        }
        progress.stop();
        // The run's own notification is the summary a person reads, in the cloud and here.
        const notification = result.notifications.at(-1);
        if (notification) process.stdout.write(`${notification.subject}\n\n${notification.message}\n`);
        if (result.status !== 'SUCCEEDED') {
          process.stderr.write(`mlship: the batch run failed (${result.error}); its work files are kept in ${result.workDir}\n`);
          process.exitCode = 1;
        }
      }),
    );
}
