// mlship quality: the quality monitor's figures of one model over the local state folder (what `npm start`
// recorded under <state-dir>/capture/: predictions/ and ground-truth/), per version: labelled predictions,
// coverage, label delay, accuracy with its 95% interval, macro-F1, ROC AUC, log loss (MAE, RMSE, R² for a
// regressor), the card's baseline and the alarms that would fire. --json prints the QualityFigures per
// version; --html writes the report (lambdas/core/quality/report/). The join is the monitor's own
// (judgeQualityModel), so the figures are the ones the monitor publishes.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { loadManifest, resolveManifestPath } from '../../lambdas/core/manifest/load';
import { modelCardSchema, type ModelCard } from '../../lambdas/core/models/model-card';
import { qualityDetails } from '../../lambdas/core/quality/monitor/quality-alarms';
import { judgeQualityModel, qualityWindow, type QualityRun } from '../../lambdas/core/quality/monitor/run-quality-monitor';
import { qualityReportHtml } from '../../lambdas/core/quality/report/quality-report-html';
import { FolderObjectStore } from '../../local/storage/folder-object-store';
import { action, parsePositiveInteger } from './common';

interface QualityFlags {
  model: string;
  version?: string;
  modelVersion?: string;
  json?: boolean;
  html?: string;
  manifest?: string;
  stateDir?: string;
  windowHours?: number;
}

/** The bucket name the capture folder stands for (as the local monitor reads it). */
const BUCKET = 'capture';

/** Every other version's card in the model's folder (models/<name>/<version>/model.json), by version. */
function otherCards(modelDir: string, live: number): Map<string, ModelCard> {
  const cards = new Map<string, ModelCard>();
  const root = dirname(modelDir);
  for (const name of readdirSync(root)) {
    if (!/^\d+$/.test(name) || Number(name) === live) continue;
    try {
      cards.set(name, modelCardSchema.parse(JSON.parse(readFileSync(join(root, name, 'model.json'), 'utf8'))));
    } catch {
      // A folder without a readable card has no predictions of its own to judge here.
    }
  }
  return cards;
}

/** The readable table: one block per version. */
export function formatQualityRun(run: QualityRun): string[] {
  const l = run.labels;
  const lines = [
    `${run.model}: predictions ${run.window.from.toISOString()} to ${run.window.to.toISOString()}`,
    `labels read ${l.read}: kept ${l.kept}, duplicates ${l.duplicates}, rejected ${l.rejected}; joined ${l.joined}, without a prediction in the window ${l.withoutPrediction}`,
  ];
  for (const v of run.versions) {
    lines.push('', `v${v.version}: ${v.figures.verdict === 'judged' ? 'judged' : `not enough labels (${v.figures.labelled} of at least ${v.figures.minLabels})`}${v.breaches.length > 0 ? ` · ALARM: ${v.breaches.map((b) => b.metric).join(', ')}` : ''}`);
    lines.push(...qualityDetails(v.figures, { window: run.window, breaches: v.breaches, ...(v.baseline ? { baseline: v.baseline } : {}) }).map((line) => `  ${line}`));
  }
  if (run.problems.length > 0) lines.push('', 'Lines that could not be read:', ...run.problems.map((p) => `  ${p}`));
  return lines;
}

export function qualityCommand(): Command {
  return new Command('quality')
    .description("a model's quality per version over the local state folder: labels joined with the recorded predictions (accuracy, macro-F1, ROC AUC or MAE, R², coverage)")
    .requiredOption('--model <name>', 'model name in the manifest')
    // The root program parses positional options (bin/mlship.ts), so `--version` after `quality` is this one.
    .option('--version <v>', 'only this version')
    .addOption(new Option('--model-version <v>', 'only this version (the same as --version)').hideHelp())
    .option('--json', 'print the figures (QualityFigures) per version as JSON')
    .option('--html <file>', 'also write a self-contained HTML report (metric per hour, coverage, confusion matrix, thresholds)')
    .option('--manifest <file>', 'the manifest (default: models/manifest.yaml)')
    .option('--state-dir <dir>', "npm start's state folder (predictions and labels under <dir>/capture/)", '.mlship')
    .option('--window-hours <h>', "hours of predictions judged (default: the model's monitoring.quality.windowHours)", parsePositiveInteger)
    .action(
      action(async (flags: QualityFlags) => {
        const only = flags.version ?? flags.modelVersion;
        const { models, file } = loadManifest(resolveManifestPath(flags.manifest));
        const loaded = models.find((m) => m.entry.name === flags.model);
        if (!loaded) throw new Error(`no model '${flags.model}' in ${file}; its models are ${models.map((m) => m.entry.name).join(', ')}`);
        const quality = { ...loaded.entry.monitoring.quality, ...(flags.windowHours !== undefined ? { windowHours: flags.windowHours } : {}) };
        const model = { name: loaded.entry.name, card: loaded.card, cards: otherCards(loaded.dir, loaded.entry.version), quality };
        const store = new FolderObjectStore({ [BUCKET]: resolve(flags.stateDir ?? '.mlship', 'capture') });
        const now = new Date();
        const full = await judgeQualityModel(store, BUCKET, model, qualityWindow(model, now));
        const versions = full.versions.filter((v) => (only === undefined ? v.figures.predictions > 0 || v.version === String(loaded.entry.version) : v.version === only));
        if (only !== undefined && versions.length === 0) throw new Error(`no version '${only}' of ${flags.model}: its versions are ${full.versions.map((v) => v.version).join(', ')}`);
        const run: QualityRun = { ...full, versions };
        if (flags.html) writeFileSync(flags.html, qualityReportHtml(run, { generatedAt: now, alarms: quality.alarms }));
        if (flags.json) {
          process.stdout.write(`${JSON.stringify({ model: run.model, window: run.window, labels: run.labels, versions: Object.fromEntries(run.versions.map((v) => [v.version, v.figures])) }, null, 2)}\n`);
        } else {
          process.stdout.write(`${formatQualityRun(run).join('\n')}\n${flags.html ? `\nreport: ${flags.html}\n` : ''}`);
        }
      }),
    );
}
