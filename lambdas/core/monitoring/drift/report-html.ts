// A drift report as one self-contained HTML page: the verdict, the figures per feature, and per feature the
// baseline's and the current rows' shares of each baseline decile bin side by side (inline SVG, inline CSS,
// no script, no external assets), so a person can see where the values moved, not only read the figures.
// When the model card has permutation importance, each feature's importance stands beside its PSI and a
// drifting feature among the most important is marked, so it stands out over a drifting unimportant one.
import type { DriftReport, FeatureDrift, SideBySide } from './drift-report';
import { importanceMeasure } from '../../explain/report/importance-text';
import { describeDriftThresholds, type ResolvedDriftThresholds } from './thresholds';

export interface HtmlReportContext {
  readonly model: string;
  readonly version: number;
  /** What the current rows are, e.g. the file name. */
  readonly source: string;
  readonly generatedAt: Date;
  /** Rows left out of the figures, with the first few messages. */
  readonly rejected?: { readonly count: number; readonly total: number; readonly examples: readonly string[] };
  /** Where each threshold came from (flag, manifest, default). @default - not said */
  readonly thresholdSources?: ResolvedDriftThresholds['sources'];
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** A figure in at most 4 significant digits, exponent form for the very small and very large. */
export function formatFigure(x: number | null | undefined): string {
  if (x === null || x === undefined || Number.isNaN(x)) return '-';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a < 1e-3 || a >= 1e5) return x.toExponential(1);
  return String(Number(x.toPrecision(a < 1 ? 3 : 4)));
}

const percent = (share: number) => `${(share * 100).toFixed(1)}%`;

function binLabel(edges: readonly number[], i: number): string {
  const lo = i === 0 ? '-∞' : formatFigure(edges[i - 1]!);
  const hi = i === edges.length ? '+∞' : formatFigure(edges[i]!);
  return `(${lo}, ${hi}]`;
}

/** Grouped bars, baseline then current, one group per bin; the share of each side's rows per bin. */
export function histogramSvg(h: SideBySide, labels?: readonly string[]): string {
  const bins = h.baseline.length;
  const n = h.baseline.reduce((s, c) => s + c, 0) || 1;
  const m = h.current.reduce((s, c) => s + c, 0) || 1;
  const shares = h.baseline.map((b, i) => [b / n, h.current[i]! / m] as const);
  const top = Math.max(0.01, ...shares.flat());
  const width = 420;
  const height = 170;
  const left = 34;
  const bottom = 26;
  const plotW = width - left - 6;
  const plotH = height - bottom - 8;
  const group = plotW / bins;
  const bar = Math.max(1, Math.min(16, (group - 4) / 2));
  const y = (share: number) => 8 + plotH - (share / top) * plotH;
  const parts: string[] = [];
  for (const tick of [0, top / 2, top]) {
    parts.push(`<line x1="${left}" x2="${width - 6}" y1="${y(tick).toFixed(1)}" y2="${y(tick).toFixed(1)}" class="grid"/>`);
    parts.push(`<text x="${left - 3}" y="${(y(tick) + 3).toFixed(1)}" class="tick" text-anchor="end">${percent(tick).replace('.0%', '%')}</text>`);
  }
  shares.forEach(([b, c], i) => {
    const x0 = left + i * group + (group - 2 * bar) / 2;
    const what = labels ? escapeHtml(labels[i] ?? String(i)) : binLabel(h.edges, i);
    parts.push(
      `<rect x="${x0.toFixed(1)}" y="${y(b).toFixed(1)}" width="${bar.toFixed(1)}" height="${(y(0) - y(b)).toFixed(1)}" class="base"><title>${what}: baseline ${percent(b)} (${h.baseline[i]})</title></rect>`,
      `<rect x="${(x0 + bar).toFixed(1)}" y="${y(c).toFixed(1)}" width="${bar.toFixed(1)}" height="${(y(0) - y(c)).toFixed(1)}" class="cur"><title>${what}: current ${percent(c)} (${h.current[i]})</title></rect>`,
    );
    if (labels) parts.push(`<text x="${(left + (i + 0.5) * group).toFixed(1)}" y="${height - 10}" class="tick" text-anchor="middle">${escapeHtml(labels[i] ?? String(i))}</text>`);
  });
  if (!labels) {
    // the edges between the groups, every other one when they would crowd
    const every = group < 38 ? 2 : 1;
    h.edges.forEach((e, i) => {
      if (i % every !== 0) return;
      parts.push(`<text x="${(left + (i + 1) * group).toFixed(1)}" y="${height - 10}" class="tick" text-anchor="middle">${formatFigure(e)}</text>`);
    });
  }
  return `<svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="baseline and current shares per bin">${parts.join('')}</svg>`;
}

function severityTag(f: { drifting: boolean; severity?: string }): string {
  if (f.drifting) return '<span class="tag drift">drift</span>';
  const severity = f.severity ?? 'stable';
  return `<span class="tag ${severity}">${severity}</span>`;
}

/** A feature's importance as shown: "0.031 ± 0.004 (#2)"; '-' when the card has none for it. */
export function importanceText(f: FeatureDrift): string {
  return f.importance ? `${formatFigure(f.importance.mean)} ± ${formatFigure(f.importance.std)} (#${f.importance.rank})` : '-';
}

const importantTag = (f: FeatureDrift) => (f.drifting && f.importance?.important ? ' <span class="tag important">important</span>' : '');

function featureRow(f: FeatureDrift, withImportance: boolean): string {
  const shift = f.meanShiftInStd === null ? '-' : `${f.meanShiftInStd >= 0 ? '+' : ''}${f.meanShiftInStd.toFixed(2)}`;
  const rowClass = f.drifting && f.importance?.important ? ' class="drift-important"' : '';
  const importance = withImportance ? `<td class="importance">${importanceText(f)}</td>` : '';
  return `<tr${rowClass}><td>${f.rank}</td><td><a href="#f${f.index}">${escapeHtml(f.name)}</a></td><td>${formatFigure(f.psi)}</td>${importance}<td>${formatFigure(f.ks?.statistic)}</td><td>${formatFigure(f.ks?.pValue)}</td><td>${formatFigure(f.jsDistance)}</td><td>${shift}</td><td>${f.count}${f.nonFinite > 0 ? ` (+${f.nonFinite} not finite)` : ''}</td><td>${severityTag(f)}${importantTag(f)}</td></tr>`;
}

function featureCard(f: FeatureDrift): string {
  const ks = f.ks ? `KS ${formatFigure(f.ks.statistic)} (p ${formatFigure(f.ks.pValue)}, on the ${f.ks.bins}, within ${formatFigure(f.ks.resolution)})` : 'no finite values';
  const importance = f.importance ? ` · importance ${importanceText(f)}` : '';
  return `<section class="card" id="f${f.index}"><h3>${f.rank}. ${escapeHtml(f.name)} ${severityTag(f)}${importantTag(f)}</h3>
<p class="figures">PSI ${formatFigure(f.psi)}${importance} · ${ks} · JS ${formatFigure(f.jsDistance)}<br>mean ${formatFigure(f.baseline.mean)} → ${formatFigure(f.current.mean)}, std ${formatFigure(f.baseline.std)} → ${formatFigure(f.current.std)}</p>
${histogramSvg(f.histogram)}</section>`;
}

const STYLE = `body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1400px;padding:0 16px;color:#1f2933}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}h3{font-size:14px;margin:0 0 4px}
.sub{color:#52606d;margin:0 0 16px}.verdict{padding:12px 16px;border-radius:6px;font-weight:600;margin:0 0 8px}
.verdict.drift{background:#fde8e8;color:#9b1c1c}.verdict.ok{background:#e3f9e5;color:#14532d}.verdict.few{background:#eef2f7;color:#3e4c59}
table{border-collapse:collapse}td,th{padding:3px 10px;text-align:right;border-bottom:1px solid #e4e7eb}td:nth-child(2),th:nth-child(2){text-align:left}
.tag{font-size:11px;padding:1px 6px;border-radius:8px;font-weight:600}.tag.drift{background:#c81e1e;color:#fff}.tag.significant{background:#fbd5d5;color:#9b1c1c}
.tag.moderate{background:#fdf6b2;color:#723b13}.tag.stable{background:#e4e7eb;color:#3e4c59}.tag.important{background:#7e1d1d;color:#fff}
tr.drift-important td{background:#fde8e8;font-weight:600}
.cards{display:flex;flex-wrap:wrap;gap:14px}.card{border:1px solid #e4e7eb;border-radius:6px;padding:10px 12px}.figures{color:#52606d;font-size:12px;margin:0 0 6px}
svg .base{fill:#9aa5b1}svg .cur{fill:#2563eb}svg .grid{stroke:#e4e7eb}svg .tick{font-size:10px;fill:#52606d}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px;vertical-align:-1px}ul.rejected{color:#9b1c1c}`;

/** The whole page. */
export function driftReportHtml(report: DriftReport, context: HtmlReportContext): string {
  const t = report.thresholds;
  const verdictClass = report.verdict === 'drift' ? 'drift' : report.verdict === 'no drift' ? 'ok' : 'few';
  const p = report.predictions;
  let predictions = '';
  if (p?.kind === 'classes') {
    predictions = `<h2>Predictions</h2><p class="figures">chi-square ${formatFigure(p.chiSquare.statistic)} on ${p.chiSquare.dof} dof, p ${formatFigure(p.chiSquare.pValue)} · PSI ${formatFigure(p.psi)} · JS ${formatFigure(p.jsDistance)} ${severityTag(p)}</p>${histogramSvg({ edges: [], baseline: p.baseline, current: p.current }, p.labels)}`;
  } else if (p?.kind === 'values') {
    predictions = `<h2>Predictions</h2><p class="figures">KS ${formatFigure(p.ks.statistic)} (p ${formatFigure(p.ks.pValue)}) · PSI ${formatFigure(p.psi)} · JS ${formatFigure(p.jsDistance)} ${severityTag(p)}</p>${histogramSvg(p.histogram)}`;
  }
  const imp = report.importance;
  const importanceNote = imp
    ? `<p class="figures importance-note">importance: the ${escapeHtml(importanceMeasure(imp.metric))} on ${imp.rows} held-out rows when the feature's values are shuffled (mean ± std over ${imp.repeats} shuffles, #1 the most important), from the model card. A drifting feature among the ${imp.top} most important is marked <span class="tag important">important</span>: its shift moves the model's output; a drifting feature of importance near 0 matters less. ${escapeHtml(imp.note)}.</p>`
    : '';
  const rejected = context.rejected && context.rejected.count > 0
    ? `<h2>Rows left out</h2><p>${context.rejected.count} of ${context.rejected.total} rows are not numbers in a feature column and are not in the figures${context.rejected.examples.length < context.rejected.count ? `; the first ${context.rejected.examples.length}` : ''}:</p><ul class="rejected">${context.rejected.examples.map((e) => `<li>${escapeHtml(e)}</li>`).join('')}</ul>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Drift: ${escapeHtml(context.model)} v${context.version}</title><style>${STYLE}</style></head>
<body>
<h1>Drift report: ${escapeHtml(context.model)} v${context.version}</h1>
<p class="sub">${report.rows} rows of ${escapeHtml(context.source)} against the model's baseline of ${report.baselineRows} training rows · ${escapeHtml(context.generatedAt.toISOString())}</p>
<p class="verdict ${verdictClass}">${escapeHtml(report.summary)}</p>
<p class="figures">A feature drifts when its PSI is at least ${t.psiSignificant} and its KS test rejects at p &lt; ${t.alpha}; PSI from ${t.psiModerate} is moderate. The model drifts when more than ${formatFigure(t.driftShare * 100)}% of its features drift, or its predictions do (chi-square or KS p &lt; ${t.alpha} and Jensen–Shannon distance at least ${t.predictionJs}); below ${t.minSampleSize} rows there is not enough data to judge.</p>
${context.thresholdSources ? `<p class="figures">Thresholds and where they came from: ${escapeHtml(describeDriftThresholds(t, context.thresholdSources))}.</p>` : ''}
${rejected}
${predictions}
<h2>Features, highest PSI first</h2>
${importanceNote}
<table><thead><tr><th>rank</th><th>feature</th><th>PSI</th>${imp ? '<th>importance</th>' : ''}<th>KS</th><th>KS p</th><th>JS</th><th>mean shift (std)</th><th>rows</th><th></th></tr></thead>
<tbody>${report.features.map((f) => featureRow(f, imp !== undefined)).join('\n')}</tbody></table>
<h2>Baseline and current, per feature</h2>
<p class="legend">Share of rows in each of the baseline's decile bins (about 10% each for the baseline):<span style="background:#9aa5b1"></span>baseline<span style="background:#2563eb"></span>current</p>
<div class="cards">${report.features.map(featureCard).join('\n')}</div>
</body></html>
`;
}
