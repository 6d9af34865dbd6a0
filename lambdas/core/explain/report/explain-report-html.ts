// The explanation report as one self-contained HTML page (inline CSS, no script, no external asset), beside
// the drift and quality reports: per local version of the model, its global permutation importance from the
// card (a bar per feature, most important first, with its spread over the shuffles and what it measures),
// and, for a data file, the mean |attribution| per feature over the file's rows with the method, its output
// space and its precision (standard errors for sampling methods). Every text from data is escaped.
import type { ModelCard } from '../../models/model-card';
import type { FileAttributions } from './file-attributions';
import { importanceMeasure, metricName } from './importance-text';

/** One feature's global permutation importance, with its rank (1 = most important). */
export interface RankedImportance {
  readonly name: string;
  readonly mean: number;
  readonly std: number;
  readonly rank: number;
}

type CardImportance = NonNullable<NonNullable<ModelCard['explanation']>['importance']>;

/** The card's importance, most important first (ties in the card's feature order). */
export function rankImportance(importance: CardImportance): RankedImportance[] {
  return importance.features
    .map((f, i) => ({ ...f, i }))
    .sort((a, b) => b.mean - a.mean || a.i - b.i)
    .map((f, r) => ({ name: f.name, mean: f.mean, std: f.std, rank: r + 1 }));
}

/** What the importance measures (how much the metric got worse: a drop, or for an error metric a rise), e.g. "drop in accuracy on 114 held-out rows (accuracy 0.965 unshuffled) when the feature is shuffled, mean ± std over 5 shuffles" */
export function importanceDescription(importance: CardImportance): string {
  const m = metricName(importance.metric);
  return `${importanceMeasure(importance.metric)} on ${importance.rows} held-out rows (${m} ${figure(importance.baseline)} unshuffled) when the feature is shuffled, mean ± std over ${importance.repeats} shuffles`;
}

/** A figure in at most 4 significant digits, exponent form for the very small and very large. */
export function figure(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '-';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a < 1e-4 || a >= 1e6) return x.toExponential(2);
  return String(Number(x.toPrecision(a < 1 ? 3 : 4)));
}

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A horizontal bar (share of the largest value) with its figure and, when given, its ± spread as a whisker. */
function barRow(name: string, value: number, spread: number | undefined, top: number, spreadLabel: string, cls: string, attrs: string): string {
  const share = (v: number) => Math.max(0, Math.min(100, (v / top) * 100));
  const width = share(value);
  const whisker =
    spread !== undefined && spread > 0
      ? `<span class="whisker" style="left:${share(value - spread).toFixed(2)}%;width:${(share(value + spread) - share(value - spread)).toFixed(2)}%"></span>`
      : '';
  const text = `${figure(value)}${spread !== undefined ? ` ± ${figure(spread)}` : ''}`;
  return `<tr class="${cls}"${attrs}><th scope="row">${escape(name)}</th><td class="track"><span class="bar${value < 0 ? ' negative' : ''}" style="width:${width.toFixed(2)}%"></span>${whisker}</td><td class="figure" title="${escape(spreadLabel)}">${escape(text)}</td></tr>`;
}

function importanceSection(model: string, version: number, card: ModelCard, explained: boolean): string {
  const importance = card.explanation?.importance;
  const heading = `<h2>${escape(model)} v${version}${explained ? ' <span class="tag">explained</span>' : ''}</h2>`;
  if (!importance) {
    return `<section class="version" data-version="${version}">${heading}<p class="missing">No permutation importance in this version's model.json (explanation.importance): <code>mlship train</code> records it, and <code>mlship import</code> with a <code>--baseline</code> file that has a label column.</p></section>`;
  }
  const ranked = rankImportance(importance);
  const top = Math.max(1e-12, ...ranked.map((f) => f.mean + f.std));
  const rows = ranked.map((f) => barRow(`${f.rank}. ${f.name}`, f.mean, f.std, top, 'std over the shuffles', 'importance', ` data-feature="${escape(f.name)}"`)).join('');
  return `<section class="version" data-version="${version}">${heading}<p class="meta">Permutation importance: ${escape(importanceDescription(importance))}; seed ${importance.seed}. Higher is more important; a value within its ± of 0 is no evidence the model uses the feature.</p><table class="bars">${rows}</table></section>`;
}

function attributionSection(data: { readonly file: string; readonly attributions: FileAttributions }, card: ModelCard): string {
  const a = data.attributions;
  const head = `<h2>Mean |attribution| over ${escape(data.file)}</h2>`;
  const counts = `${a.rows} rows explained of ${a.rowsIn} read${a.rejected > 0 ? `; ${a.rejected} rejected` : ''}`;
  const rejects =
    a.rejected > 0
      ? `<p>Rows not explained (${a.rejected}${a.rejectedExamples.length < a.rejected ? `; the first ${a.rejectedExamples.length}` : ''}):</p><ul class="rejected">${a.rejectedExamples.map((r) => `<li>${escape(r.reason)}</li>`).join('')}</ul>`
      : '';
  if (a.rows === 0 || a.method === undefined) return `<section class="attributions">${head}<p class="meta">${escape(counts)}: nothing to explain.</p>${rejects}</section>`;
  const sorted = [...a.features].sort((x, y) => y.meanAbs - x.meanAbs);
  const top = Math.max(1e-12, ...sorted.map((f) => f.meanAbs + (f.standardError ?? 0)));
  const sampled = sorted.some((f) => f.standardError !== undefined);
  const precision = sampled
    ? `Each row's attributions are sampled (antithetic permutations over the background sample); ± is the standard error of the mean |attribution| from the rows' own standard errors (at most sqrt(Σ se²) / n).${a.incompleteRows > 0 ? ` ${a.incompleteRows} row${a.incompleteRows === 1 ? '' : 's'} stopped sampling at the deadline, before the budget was spent.` : ''}`
    : 'Exact: each row\'s attributions are computed from the model\'s weights, with no sampling error.';
  const classes = a.explainedClasses ? ` Each row is explained for its predicted class: ${Object.entries(a.explainedClasses).filter(([, n]) => n > 0).map(([label, n]) => `${label}: ${n} row${n === 1 ? '' : 's'}`).join(', ')}.` : '';
  const rows = sorted.map((f) => barRow(f.name, f.meanAbs, f.standardError, top, sampled ? 'standard error' : 'exact', 'attribution', ` data-feature="${escape(f.name)}"`)).join('');
  return `<section class="attributions">${head}<p class="meta">${escape(counts)} of ${escape(card.name)} v${card.version}. Method: <strong>${escape(a.method)}</strong> (output space: ${escape(a.output ?? '-')}).${escape(classes)} Largest additivity error (|base value + Σ attributions − prediction|): ${escape(figure(a.maxAdditivityError))}.</p><p class="meta precision">${escape(precision)}</p><table class="bars">${rows}</table>${rejects}</section>`;
}

export interface ExplainReportContext {
  readonly model: string;
  /** The version explained (the one --data was explained with). */
  readonly version: number;
  /** Every local version of the model with its card, for the importance per version. */
  readonly versions: readonly { readonly version: number; readonly card: ModelCard }[];
  /** The file's mean |attribution|, when one was explained. */
  readonly data?: { readonly file: string; readonly attributions: FileAttributions };
  readonly generatedAt: Date;
}

const STYLE = `body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1100px;padding:0 16px;color:#1f2933}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 6px}.meta{color:#52606d;margin:0 0 8px}.missing{color:#9b1c1c}
table.bars{border-collapse:collapse;width:100%}table.bars th{text-align:left;font-weight:500;padding:2px 10px 2px 0;white-space:nowrap;width:1%}
td.track{position:relative;height:16px;padding:0;background:#f5f7fa;border-bottom:2px solid #fff}td.figure{text-align:right;padding:2px 0 2px 10px;white-space:nowrap;width:1%;font-variant-numeric:tabular-nums}
.bar{position:absolute;left:0;top:2px;bottom:2px;background:#2563eb}.bar.negative{background:#9aa5b1}tr.attribution .bar{background:#0f766e}
.whisker{position:absolute;top:7px;height:2px;background:#1f2933}.tag{font-size:11px;padding:1px 6px;border-radius:8px;background:#e4e7eb;color:#3e4c59;font-weight:600}
ul.rejected{color:#9b1c1c}code{background:#f5f7fa;padding:0 3px}`;

/** The whole page: the explained data first (when any), then the importance of each local version, newest first. */
export function explainReportHtml(context: ExplainReportContext): string {
  const explainedCard = context.versions.find((v) => v.version === context.version)?.card;
  const versions = [...context.versions].sort((a, b) => b.version - a.version);
  const data = context.data && explainedCard ? attributionSection(context.data, explainedCard) : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Explanations: ${escape(context.model)} v${context.version}</title><style>${STYLE}</style></head>
<body>
<h1>Explanations: ${escape(context.model)} v${context.version}</h1>
<p class="meta">${versions.length} local version${versions.length === 1 ? '' : 's'} · generated ${escape(context.generatedAt.toISOString())}</p>
${data}
<h2>Global importance per version</h2>
${versions.map((v) => importanceSection(context.model, v.version, v.card, v.version === context.version)).join('\n')}
</body></html>
`;
}
