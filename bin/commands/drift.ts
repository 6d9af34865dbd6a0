// mlship drift: compares a CSV file's rows with a model's drift baseline (model.json) and prints the figures
// per feature, ranked by PSI (the card's permutation importance beside it when the card has it: a drifting
// important feature is marked), the prediction figures and the verdict; --json for the figures as JSON,
// --html for a page with baseline and current histograms per feature. The work is lambdas/core/monitoring/drift/. The
// thresholds are the model's, resolved as the drift monitors resolve them (resolveDriftThresholds): a flag
// over the manifest's monitoring.drift over the default, and every output says which each one came from.
import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Command } from 'commander';
import { driftOfCsvFile, type FileDrift } from '../../lambdas/core/monitoring/drift/check-file';
import type { FeatureDrift } from '../../lambdas/core/monitoring/drift/drift-report';
import { driftReportHtml, formatFigure, importanceText } from '../../lambdas/core/monitoring/drift/report-html';
import { DEFAULT_DRIFT_THRESHOLDS, describeDriftThresholds, resolveDriftThresholds, type ResolvedDriftThresholds } from '../../lambdas/core/monitoring/drift/thresholds';
import { importanceMeasure } from '../../lambdas/core/explain/report/importance-text';
import { ServedModel } from '../../lambdas/core/models/inference-session';
import { loadManifest, resolveManifestPath } from '../../lambdas/core/manifest/load';
import { action, parseNumber, parsePositiveInteger } from './common';

interface DriftFlags {
  model: string;
  data: string;
  manifest?: string;
  json?: boolean;
  html?: string;
  psiModerate?: number;
  psiSignificant?: number;
  predictionJs?: number;
  alpha?: number;
  driftShare?: number;
  minRows?: number;
}

const d = DEFAULT_DRIFT_THRESHOLDS;
const HELP = `
Each threshold is the model's monitoring.drift setting in the manifest (the one the drift monitor judges
by), else the default shown; a flag overrides both. The output says where each one came from.

A feature drifts when its PSI over the baseline's decile bins is at least --psi-significant and the
two-sample Kolmogorov-Smirnov test rejects at --alpha; the model drifts when more than --drift-share of
its features drift, or its predictions do (chi-square or KS test at --alpha and Jensen-Shannon
distance at least --prediction-js). Fewer rows than --min-rows: "not enough data", never drift.

Rows with a feature cell that is not a number are left out of the figures and listed. Columns that are
not features (a label, an id) are ignored. Exit code 0 whatever the verdict; 1 when the check cannot run.`;

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

function shift(f: FeatureDrift): string {
  return f.meanShiftInStd === null ? '-' : `${f.meanShiftInStd >= 0 ? '+' : ''}${f.meanShiftInStd.toFixed(2)}`;
}

/** What the outputs name: the model, its version, the file, and where each threshold came from. */
export interface DriftOutputContext {
  readonly model: string;
  readonly version: number;
  readonly source: string;
  /** Where each of the report's thresholds came from (resolveDriftThresholds). @default - not said */
  readonly thresholdSources?: ResolvedDriftThresholds['sources'];
}

/** The table for people: one line per feature, highest PSI first, then predictions, rejects, the thresholds and the verdict. */
export function formatDriftTable(result: FileDrift, context: DriftOutputContext): string[] {
  const { report, data } = result;
  const name = Math.max(7, ...report.features.map((f) => f.name.length));
  const imp = report.importance;
  const impWidth = imp ? Math.max(10, ...report.features.map((f) => importanceText(f).length)) : 0;
  const header = `${pad('rank', 4, true)}  ${pad('feature', name)}  ${pad('PSI', 7, true)}  ${imp ? `${pad('importance', impWidth, true)}  ` : ''}${pad('KS', 6, true)}  ${pad('KS p', 8, true)}  ${pad('JS', 6, true)}  ${pad('shift', 6, true)}  verdict`;
  const lines = [
    `${context.model} v${context.version}: ${report.rows} rows of ${context.source} against the baseline of ${report.baselineRows} training rows`,
    '',
    header,
    ...report.features.map((f) =>
      [
        pad(String(f.rank), 4, true),
        pad(f.name, name),
        pad(formatFigure(f.psi), 7, true),
        ...(imp ? [pad(importanceText(f), impWidth, true)] : []),
        pad(formatFigure(f.ks?.statistic), 6, true),
        pad(formatFigure(f.ks?.pValue), 8, true),
        pad(formatFigure(f.jsDistance), 6, true),
        pad(shift(f), 6, true),
        f.drifting ? (f.importance?.important ? 'DRIFT, IMPORTANT' : 'DRIFT') : f.psi === null ? 'no values' : f.severity,
      ].join('  '),
    ),
    '(PSI over the baseline\'s deciles; KS statistic and p-value; JS: Jensen-Shannon distance; shift: change of the mean in baseline standard deviations)',
  ];
  if (imp) {
    lines.push(
      `(importance: ${importanceMeasure(imp.metric)} on ${imp.rows} held-out rows when the feature is shuffled, mean ± std over ${imp.repeats} shuffles, #1 the most important, from model.json; a drifting feature among the ${imp.top} most important is DRIFT, IMPORTANT: it moves the model's output, a drifting unimportant one matters less)`,
      `importance: ${imp.note}`,
    );
  }
  const p = report.predictions;
  if (p?.kind === 'classes') {
    const n = p.baseline.reduce((s, c) => s + c, 0);
    const m = p.current.reduce((s, c) => s + c, 0);
    const shares = p.labels.map((label, i) => `${label} ${((p.baseline[i]! / n) * 100).toFixed(0)}% -> ${((p.current[i]! / m) * 100).toFixed(0)}%`).join(', ');
    lines.push('', `predictions: ${shares}; chi-square ${formatFigure(p.chiSquare.statistic)} (${p.chiSquare.dof} dof), p ${formatFigure(p.chiSquare.pValue)}, JS ${formatFigure(p.jsDistance)}: ${p.drifting ? 'DRIFT' : 'stable'}`);
  } else if (p?.kind === 'values') {
    lines.push('', `predictions: KS ${formatFigure(p.ks.statistic)}, p ${formatFigure(p.ks.pValue)}, JS ${formatFigure(p.jsDistance)}: ${p.drifting ? 'DRIFT' : 'stable'}`);
  }
  if (data.rejectedCount > 0) {
    lines.push('', `left out ${data.rejectedCount} of ${data.total} rows that are not numbers in a feature column${data.rejected.length < data.rejectedCount ? ` (the first ${data.rejected.length})` : ''}:`);
    lines.push(...data.rejected.map((r) => `  ${r.message}`));
  }
  lines.push('', `thresholds: ${describeDriftThresholds(report.thresholds, context.thresholdSources)}`, report.summary);
  return lines;
}

/**
 * The --json document: the report and what happened to the file's rows. `thresholds` keeps its numbers;
 * `thresholdSources` beside it names, per threshold, where it came from: 'flag', 'manifest' or 'default'.
 */
export function driftJson(result: FileDrift, context: DriftOutputContext): unknown {
  const { report, data } = result;
  return {
    model: context.model,
    version: context.version,
    data: { file: context.source, rows: data.total, used: data.rows, rejected: data.rejectedCount, rejectedByColumn: data.rejectedByColumn, rejectedExamples: data.rejected, ignoredColumns: data.ignoredColumns },
    ...report,
    ...(context.thresholdSources ? { thresholdSources: context.thresholdSources } : {}),
  };
}

/** A flag's help: what it sets, and that the manifest's setting (else the default) applies without it. */
const fromManifest = (what: string, name: keyof typeof d) => `${what} (default: monitoring.drift.${name} in the manifest, else ${d[name]})`;

export function driftCommand(): Command {
  return new Command('drift')
    .description("compare a CSV file's rows (and the model's predictions on them) with the model's drift baseline")
    .requiredOption('--model <name>', 'model name in the manifest (its version there is the one compared)')
    .requiredOption('--data <file>', 'CSV with a header row naming the model\'s features, plain or .csv.gz')
    .option('--manifest <file>', 'the manifest (default: models/manifest.yaml)')
    .option('--json', 'print the per-feature figures and the verdict as JSON')
    .option('--html <file>', 'also write a self-contained HTML report with baseline and current histograms per feature')
    .option('--psi-moderate <x>', fromManifest('PSI from which a shift is moderate', 'psiModerate'), parseNumber)
    .option('--psi-significant <x>', fromManifest("PSI from which a feature's shift is significant", 'psiSignificant'), parseNumber)
    .option('--prediction-js <x>', fromManifest("Jensen-Shannon distance from which the predictions' shift counts", 'predictionJs'), parseNumber)
    .option('--alpha <p>', fromManifest('significance level of the KS and chi-square tests', 'alpha'), parseNumber)
    .option('--drift-share <x>', fromManifest('the model drifts when more than this share of features drift', 'driftShare'), parseNumber)
    .option('--min-rows <n>', fromManifest('fewest rows to judge by', 'minSampleSize'), parsePositiveInteger)
    .addHelpText('after', HELP)
    .action(
      action(async (flags: DriftFlags) => {
        const { models, file } = loadManifest(resolveManifestPath(flags.manifest));
        const model = models.find((m) => m.entry.name === flags.model);
        if (!model) throw new Error(`no model '${flags.model}' in ${file}; its models are ${models.map((m) => m.entry.name).join(', ')}`);
        const { thresholds, sources } = resolveDriftThresholds(model.entry.monitoring.drift, {
          psiModerate: flags.psiModerate,
          psiSignificant: flags.psiSignificant,
          predictionJs: flags.predictionJs,
          alpha: flags.alpha,
          driftShare: flags.driftShare,
          minSampleSize: flags.minRows,
        });
        const served = await ServedModel.load(model.dir);
        let result: FileDrift;
        try {
          result = await driftOfCsvFile(served, flags.data, thresholds);
        } finally {
          await served.release();
        }
        const context: DriftOutputContext = { model: model.entry.name, version: model.entry.version, source: basename(flags.data), thresholdSources: sources };
        if (flags.json) process.stdout.write(`${JSON.stringify(driftJson(result, context), null, 2)}\n`);
        else process.stdout.write(`${formatDriftTable(result, context).join('\n')}\n`);
        if (flags.html) {
          const { report, data } = result;
          writeFileSync(flags.html, driftReportHtml(report, { ...context, generatedAt: new Date(), rejected: { count: data.rejectedCount, total: data.total, examples: data.rejected.map((r) => r.message) } }));
          process.stderr.write(`wrote ${flags.html}\n`);
        }
      }),
    );
}
