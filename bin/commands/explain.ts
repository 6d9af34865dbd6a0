// mlship explain: why a model answers as it does. Without --data: the version's global permutation
// importance from its card (how much worse the held-out metric gets when a feature is shuffled, mean ± std over the
// shuffles), most important first. With --data FILE (CSV or JSON Lines, as `mlship batch` reads them): the
// mean |attribution| per feature over the file's rows, by the version's Explainer (exact linear SHAP for the
// built-in logistic regression, permutation SHAP with a standard error otherwise). --json prints the same as
// one JSON object; --html writes the report (lambdas/core/explain/report/) with the importance of every
// local version. The work is lambdas/core/explain/.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Command, Option } from 'commander';
import { formatOfKey } from '../../lambdas/core/batch/pipeline/plan';
import { readBackground } from '../../lambdas/core/explain/background';
import { Explainer } from '../../lambdas/core/explain/explainer';
import { attributionsOfFile, type FileAttributions } from '../../lambdas/core/explain/report/file-attributions';
import { explainReportHtml, figure, importanceDescription, rankImportance } from '../../lambdas/core/explain/report/explain-report-html';
import { loadManifest, loadModelFolder, resolveManifestPath } from '../../lambdas/core/manifest/load';
import { ServedModel } from '../../lambdas/core/models/inference-session';
import type { ModelCard } from '../../lambdas/core/models/model-card';
import { action, parsePositiveInteger } from './common';

interface ExplainFlags {
  model: string;
  version?: string;
  modelVersion?: string;
  data?: string;
  format?: 'csv' | 'jsonl';
  json?: boolean;
  html?: string;
  manifest?: string;
  maxEvaluations?: number;
}

const HELP = `
Without --data it prints the permutation importance that mlship train (or mlship import with a labelled
--baseline) recorded in the version's model.json: how much worse the held-out metric gets (accuracy
drops, log loss rises) when one feature's values are shuffled, mean ± std over the shuffles. Higher is
more important.

With --data it explains every row of the file and prints each feature's mean |attribution| (in the
method's output space: the log-odds or the probability of the predicted class, or the predicted value),
with the method and, for sampled methods, the standard error. Rows that cannot be read are counted and
listed with their reasons, as mlship batch rejects them.

Exit code 0 when it printed; 1 when the model, version or file cannot be explained (the message says
what is missing and how to make it).`;

/** A version's card, folder and every other local version's card (models/<name>/<version>/). */
interface VersionAt {
  readonly version: number;
  readonly dir: string;
  readonly card: ModelCard;
}

function localVersions(root: string, name: string): VersionAt[] {
  const out: VersionAt[] = [];
  for (const entry of readdirSync(root)) {
    if (!/^\d+$/.test(entry)) continue;
    const dir = join(root, entry);
    const { card, problems } = loadModelFolder(dir, `${name} v${entry}`, { name, version: Number(entry) });
    if (card && problems.length === 0) out.push({ version: card.version, dir, card });
  }
  return out.sort((a, b) => a.version - b.version);
}

const pad = (text: string, width: number, right = false) => (right ? text.padStart(width) : text.padEnd(width));

/** The importance table: rank, feature, mean ± std and a bar of '#' scaled to the largest. */
export function formatImportanceTable(card: ModelCard): string[] {
  const importance = card.explanation?.importance;
  if (!importance) return [];
  const ranked = rankImportance(importance);
  const name = Math.max(7, ...ranked.map((f) => f.name.length));
  const values = ranked.map((f) => `${figure(f.mean)} ± ${figure(f.std)}`);
  const width = Math.max(10, ...values.map((v) => v.length));
  const top = Math.max(1e-12, ...ranked.map((f) => f.mean));
  return [
    `${card.name} v${card.version}: permutation importance, ${importanceDescription(importance)}`,
    '',
    `${pad('rank', 4, true)}  ${pad('feature', name)}  ${pad('importance', width, true)}`,
    ...ranked.map((f, i) => `${pad(String(f.rank), 4, true)}  ${pad(f.name, name)}  ${pad(values[i]!, width, true)}  ${'#'.repeat(Math.max(0, Math.round((f.mean / top) * 30)))}`),
  ];
}

/** The mean |attribution| table, largest first, with the method, its precision and the rows read and rejected. */
export function formatAttributionTable(a: FileAttributions, context: { readonly model: string; readonly version: number; readonly file: string }): string[] {
  const lines = [`${context.model} v${context.version}: mean |attribution| over ${a.rows} rows of ${context.file} (${a.rowsIn} read, ${a.rejected} rejected)`];
  if (a.method !== undefined) {
    const sampled = a.features.some((f) => f.standardError !== undefined);
    lines.push(
      `method: ${a.method}; ${sampled ? 'sampled: ± is the standard error of the mean |attribution|' : 'exact (no sampling error)'}; largest additivity error ${figure(a.maxAdditivityError)}${a.incompleteRows > 0 ? `; ${a.incompleteRows} row${a.incompleteRows === 1 ? '' : 's'} stopped sampling at the deadline` : ''}`,
    );
    if (a.explainedClasses) lines.push(`explained for the predicted class: ${Object.entries(a.explainedClasses).filter(([, n]) => n > 0).map(([label, n]) => `${label}: ${n} row${n === 1 ? '' : 's'}`).join(', ')}`);
    const sorted = [...a.features].sort((x, y) => y.meanAbs - x.meanAbs);
    const name = Math.max(7, ...sorted.map((f) => f.name.length));
    const values = sorted.map((f) => (f.standardError === undefined ? figure(f.meanAbs) : `${figure(f.meanAbs)} ± ${figure(f.standardError)}`));
    const width = Math.max(15, ...values.map((v) => v.length));
    const top = Math.max(1e-12, sorted[0]!.meanAbs);
    lines.push(
      '',
      `${pad('rank', 4, true)}  ${pad('feature', name)}  ${pad('mean |attr.|', width, true)}  ${pad('mean', 10, true)}`,
      ...sorted.map((f, i) => `${pad(String(i + 1), 4, true)}  ${pad(f.name, name)}  ${pad(values[i]!, width, true)}  ${pad(figure(f.mean), 10, true)}  ${'#'.repeat(Math.max(0, Math.round((f.meanAbs / top) * 30)))}`),
      "(mean |attr.|: how much the feature moved the explained output, on average over the rows; mean: the signed average, which way it pushed)",
    );
  } else {
    lines.push('no row could be explained');
  }
  if (a.rejected > 0) {
    lines.push('', `rejected ${a.rejected} row${a.rejected === 1 ? '' : 's'}${a.rejectedExamples.length < a.rejected ? ` (the first ${a.rejectedExamples.length})` : ''}:`, ...a.rejectedExamples.map((r) => `  ${r.reason}`));
  }
  return lines;
}

/** The --json document. */
export function explainJson(card: ModelCard, data?: { readonly file: string; readonly attributions: FileAttributions }): unknown {
  const importance = card.explanation?.importance;
  return {
    model: card.name,
    version: card.version,
    importance: importance
      ? { metric: importance.metric, repeats: importance.repeats, rows: importance.rows, seed: importance.seed, baseline: importance.baseline, features: rankImportance(importance) }
      : null,
    ...(data ? { attributions: { file: data.file, ...data.attributions, features: [...data.attributions.features].sort((x, y) => y.meanAbs - x.meanAbs) } } : {}),
  };
}

const NO_IMPORTANCE = (card: ModelCard) =>
  `${card.name} v${card.version} has no permutation importance in its model.json (explanation.importance): mlship train records it; mlship import records it with a --baseline file that has a label column. Or explain a data file with --data FILE`;
const NO_BACKGROUND = (card: ModelCard) =>
  `${card.name} v${card.version} has no background sample for explanations (model.json explanation.background, background.json): mlship train writes one; mlship import writes one with --baseline FILE`;

async function explainFile(at: VersionAt, file: string, flags: ExplainFlags): Promise<FileAttributions> {
  const background = readBackground(at.dir, at.card);
  if (!background) throw new Error(NO_BACKGROUND(at.card));
  const { format: named, gzip } = formatOfKey(file);
  const format = flags.format ?? named;
  if (!format) throw new Error(`${file}: cannot tell the format from the name (.csv, .jsonl, .ndjson, optionally .gz); say it with --format csv or --format jsonl`);
  const served = await ServedModel.load(at.dir);
  try {
    const predict = served.predict.bind(served);
    const explainer = Explainer.create({ card: at.card, background, predict, onnx: readFileSync(join(at.dir, 'model.onnx')) });
    return await attributionsOfFile({ card: at.card, predict }, explainer, background.length / at.card.input.features.length, file, {
      format,
      gzip,
      ...(flags.maxEvaluations !== undefined ? { maxEvaluations: flags.maxEvaluations } : {}),
    });
  } finally {
    await served.release();
  }
}

export function explainCommand(): Command {
  return new Command('explain')
    .description("why a model answers as it does: the version's global permutation importance, or the mean |attribution| per feature over a data file")
    .requiredOption('--model <name>', 'model name in the manifest')
    // The root program parses positional options (bin/mlship.ts), so `--version` after `explain` is this one.
    .option('--version <v>', "the version to explain (default: the manifest's)")
    .addOption(new Option('--model-version <v>', 'the version to explain (the same as --version)').hideHelp())
    .option('--data <file>', 'explain the rows of this CSV (header row naming the features) or JSON Lines file (.gz too)')
    .addOption(new Option('--format <format>', "the data file's format (default: from its name)").choices(['csv', 'jsonl']))
    .option('--json', 'print the importance (and the mean attributions) as JSON')
    .option('--html <file>', 'also write a self-contained HTML report: importance bars per feature for every local version, and the data file\'s attributions')
    .option('--manifest <file>', 'the manifest (default: models/manifest.yaml)')
    .option('--max-evaluations <n>', "model rows per explained row for permutation SHAP (default: the model's explain.maxEvaluations in the manifest)", parsePositiveInteger)
    .addHelpText('after', HELP)
    .action(
      action(async (flags: ExplainFlags) => {
        const { models, file } = loadManifest(resolveManifestPath(flags.manifest));
        const loaded = models.find((m) => m.entry.name === flags.model);
        if (!loaded) throw new Error(`no model '${flags.model}' in ${file}; its models are ${models.map((m) => m.entry.name).join(', ')}`);
        const versions = localVersions(dirname(loaded.dir), loaded.entry.name);
        const wanted = flags.version ?? flags.modelVersion;
        const at = wanted === undefined ? { version: loaded.entry.version, dir: loaded.dir, card: loaded.card } : versions.find((v) => String(v.version) === wanted);
        if (!at) throw new Error(`no version '${wanted}' of ${flags.model} in ${dirname(loaded.dir)}: its versions are ${versions.map((v) => v.version).join(', ')}`);
        if (!versions.some((v) => v.version === at.version)) versions.push(at);
        if (!flags.data && !at.card.explanation?.importance) throw new Error(NO_IMPORTANCE(at.card));
        const maxEvaluations = flags.maxEvaluations ?? loaded.entry.explain.maxEvaluations;
        const data = flags.data ? { file: basename(flags.data), attributions: await explainFile(at, flags.data, { ...flags, maxEvaluations }) } : undefined;
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(explainJson(at.card, data), null, 2)}\n`);
        } else {
          const lines = at.card.explanation?.importance ? formatImportanceTable(at.card) : [`${NO_IMPORTANCE(at.card).split(': ')[0]}.`];
          if (data) lines.push('', ...formatAttributionTable(data.attributions, { model: at.card.name, version: at.version, file: data.file }));
          process.stdout.write(`${lines.join('\n')}\n`);
        }
        if (flags.html) {
          writeFileSync(flags.html, explainReportHtml({ model: at.card.name, version: at.version, versions, ...(data ? { data } : {}), generatedAt: new Date() }));
          process.stderr.write(`wrote ${flags.html}\n`);
        }
      }),
    );
}
