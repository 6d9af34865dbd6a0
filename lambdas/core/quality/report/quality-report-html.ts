// The quality report as one self-contained HTML page (no script, no external resource), beside the drift
// report: per version, the figures of the window with the card's baseline and the alarm thresholds, the metric
// hour by hour as a small inline SVG with the threshold line, coverage per hour, and the confusion matrix.
// Every text from data (model, class labels) is escaped.
import type { QualityAlarms } from '../../manifest/schema';
import type { QualityRun, VersionQuality } from '../monitor/run-quality-monitor';

export interface QualityReportContext {
  readonly generatedAt: Date;
  readonly alarms: QualityAlarms;
}

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const num = (x: number | undefined, digits = 3) => (x === undefined || !Number.isFinite(x) ? '-' : String(Math.round(x * 10 ** digits) / 10 ** digits));
const pct = (x: number) => `${Math.round(x * 1000) / 10}%`;

/** A line of the hourly figure with the threshold as a dashed line; hours without labels are gaps. */
export function hourlySvg(values: readonly (number | undefined)[], options: { readonly threshold?: number; readonly label: string; readonly max?: number }): string {
  const width = 480;
  const height = 120;
  const pad = 24;
  const known = values.filter((v): v is number => v !== undefined);
  const top = options.max ?? Math.max(1e-9, ...known, options.threshold ?? 0) * 1.1;
  const x = (i: number) => pad + (values.length <= 1 ? 0 : (i * (width - 2 * pad)) / (values.length - 1));
  const y = (v: number) => height - pad - (Math.min(v, top) / top) * (height - 2 * pad);
  const segments: string[] = [];
  let current: string[] = [];
  values.forEach((v, i) => {
    if (v === undefined) {
      if (current.length > 0) segments.push(current.join(' '));
      current = [];
    } else current.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
  });
  if (current.length > 0) segments.push(current.join(' '));
  const lines = segments.map((points) => (points.includes(' ') ? `<polyline fill="none" stroke="#0969da" stroke-width="2" points="${points}"/>` : `<circle r="3" fill="#0969da" cx="${points.split(',')[0]}" cy="${points.split(',')[1]}"/>`));
  const threshold =
    options.threshold === undefined
      ? ''
      : `<line class="threshold" x1="${pad}" x2="${width - pad}" y1="${y(options.threshold).toFixed(1)}" y2="${y(options.threshold).toFixed(1)}" stroke="#cf222e" stroke-dasharray="4 3"/><text x="${width - pad}" y="${(y(options.threshold) - 4).toFixed(1)}" text-anchor="end" font-size="10" fill="#cf222e">threshold ${num(options.threshold)}</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${escape(options.label)} per hour" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"><rect width="${width}" height="${height}" fill="#f6f8fa"/><text x="${pad}" y="14" font-size="11">${escape(options.label)} per hour (0 to ${num(top)})</text>${threshold}${lines.join('')}</svg>`;
}

function versionSection(v: VersionQuality, run: QualityRun, alarms: QualityAlarms): string {
  const f = v.figures;
  const m = f.metrics;
  const rows: [string, string][] = [
    ['labelled predictions', `${f.labelled} of ${f.predictions}`],
    ['coverage', pct(f.coverage)],
    ['label delay p50 / p95', f.delaySeconds ? `${num(f.delaySeconds.p50 / 60, 1)} min / ${num(f.delaySeconds.p95 / 60, 1)} min` : '-'],
    ['verdict', f.verdict === 'judged' ? 'judged' : `not enough labels (at least ${f.minLabels})`],
  ];
  if (m?.task === 'classification') {
    rows.push(
      ['accuracy (95% interval)', `${num(m.accuracy.value)} (${num(m.accuracy.low)} to ${num(m.accuracy.high)})${alarms.accuracyBelow !== undefined ? `, alarm below ${alarms.accuracyBelow}` : ''}`],
      ['macro-F1', `${num(m.macroF1)}${alarms.macroF1Below !== undefined ? `, alarm below ${alarms.macroF1Below}` : ''}`],
      ['ROC AUC', `${num(m.rocAuc)}${alarms.rocAucBelow !== undefined ? `, alarm below ${alarms.rocAucBelow}` : ''}`],
      ['log loss', num(m.logLoss)],
    );
  } else if (m?.task === 'regression') {
    rows.push(['MAE', `${num(m.mae)}${alarms.maeAbove !== undefined ? `, alarm above ${alarms.maeAbove}` : ''}`], ['RMSE', num(m.rmse)], ['R²', `${num(m.r2)}${alarms.r2Below !== undefined ? `, alarm below ${alarms.r2Below}` : ''}`]);
  }
  if (v.baseline) rows.push([`baseline (card's held-out split, ${v.baseline.rows} rows)`, `${v.baseline.metric === 'r2' ? 'R²' : 'accuracy'} ${num(v.baseline.value)}${alarms.dropFromBaselineAbove !== undefined ? `, alarm when live is more than ${alarms.dropFromBaselineAbove} below` : ''}`]);
  const breaches = v.breaches.length === 0 ? '' : `<p class="alarm">ALARM: ${v.breaches.map((b) => escape(`${b.metric} ${num(b.value)} ${b.comparison} ${num(b.threshold)}`)).join('; ')}</p>`;
  const classifier = run.task === 'classification';
  const hourly = hourlySvg(
    v.hours.map((h) => (classifier ? h.accuracy : h.mae)),
    classifier ? { label: 'accuracy', max: 1, ...(alarms.accuracyBelow !== undefined ? { threshold: alarms.accuracyBelow } : {}) } : { label: 'MAE', ...(alarms.maeAbove !== undefined ? { threshold: alarms.maeAbove } : {}) },
  );
  const coverage = hourlySvg(
    v.hours.map((h) => (h.predictions > 0 ? h.labelled / h.predictions : undefined)),
    { label: 'coverage', max: 1 },
  );
  let confusion = '';
  if (m?.task === 'classification') {
    const head = `<tr><th>actual \\ predicted</th>${m.labels.map((l) => `<th>${escape(l)}</th>`).join('')}</tr>`;
    const body = m.confusion.map((row, a) => `<tr><th>${escape(m.labels[a]!)}</th>${row.map((n, p) => `<td class="${a === p ? 'diagonal' : n > 0 ? 'off' : ''}">${n}</td>`).join('')}</tr>`).join('');
    confusion = `<h3>Confusion matrix</h3><table class="confusion">${head}${body}</table>`;
  }
  return `<section class="version" data-version="${escape(v.version)}"><h2>${escape(run.model)} v${escape(v.version)}</h2>${breaches}<table class="figures">${rows.map(([k, x]) => `<tr><th>${escape(k)}</th><td>${escape(x)}</td></tr>`).join('')}</table><h3>Per hour</h3>${hourly}${coverage}${confusion}</section>`;
}

/** The page: header with the window and the labels read, then one section per version. */
export function qualityReportHtml(run: QualityRun, context: QualityReportContext): string {
  const l = run.labels;
  const sections = run.versions.map((v) => versionSection(v, run, context.alarms)).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Quality: ${escape(run.model)}</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#1f2328}table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left}td.diagonal{background:#dafbe1}td.off{background:#ffebe9}.alarm{color:#a40e26;font-weight:600}.meta{color:#57606a}svg{display:block;margin:.3em 0}</style></head>
<body><h1>Quality of ${escape(run.model)}</h1>
<p class="meta">Predictions made ${escape(run.window.from.toISOString())} to ${escape(run.window.to.toISOString())} (whole UTC hours); generated ${escape(context.generatedAt.toISOString())}.</p>
<p class="meta">Labels read: ${l.read} (kept ${l.kept}, duplicates ${l.duplicates}, rejected ${l.rejected}); joined ${l.joined}; without a prediction in the window ${l.withoutPrediction}.</p>
${sections}
</body></html>
`;
}
