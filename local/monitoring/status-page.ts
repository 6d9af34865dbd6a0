// The local status page: GET / is one plain HTML page whose inline script polls GET /status.json and draws
// every model (versions, traffic split, latency, alarms, drift, quality, and each loaded version's top
// features by the card's permutation importance) and the recent alerts. The script builds the
// page with DOM nodes and textContent only, so a model, feature or alert text is shown as text, never read
// as HTML; a Content-Security-Policy lets only that one script run and only /status.json be fetched.
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { importanceMeasure } from '../../lambdas/core/explain/report/importance-text';
import type { ModelCard } from '../../lambdas/core/models/model-card';
import type { AlarmState } from '../../lambdas/core/monitoring/contracts';
import type { ProcessFaultCounts } from '../serving/process-faults';
import type { AlarmStatus } from './alarm-evaluator';
import type { CaptureFileStats } from './capture-files';
import type { MonitorHealth } from './monitor-timer';
import type { StateBoundsStatus } from './state-bounds';
import type { VersionFigures } from './metrics-store';

export interface FeatureStatus {
  readonly name: string;
  readonly psi: number | null;
  readonly ksStatistic: number | null;
  readonly ksPValue: number | null;
  readonly jsDistance: number | null;
  readonly drifting: boolean;
  /** The feature's rank by the card's permutation importance (1 = most important), and whether it is among the most important. @default - the card has none */
  readonly importance?: { readonly rank: number; readonly mean: number; readonly important: boolean };
}

export interface DriftStatus {
  readonly state: 'not run yet' | 'drift' | 'no drift' | 'not enough data' | 'error';
  readonly lastRun?: string;
  /** The version whose captures were read. */
  readonly version?: string;
  readonly rows?: number;
  readonly minSampleSize?: number;
  readonly summary?: string;
  readonly error?: string;
  readonly driftingFeatures: readonly string[];
  /** Drifting important features first (by the card's permutation importance), then drifting ones, then the highest PSI; at most 10. */
  readonly features: readonly FeatureStatus[];
  readonly predictions?: { readonly drifting: boolean; readonly jsDistance: number };
}

/** One version's quality over the quality monitor's window (issue 17). */
export interface QualityVersionStatus {
  readonly version: string;
  readonly labelled: number;
  readonly predictions: number;
  readonly coverage: number;
  readonly verdict: 'judged' | 'not enough labels';
  readonly minLabels: number;
  readonly accuracy?: { readonly value: number; readonly low: number; readonly high: number };
  readonly macroF1?: number;
  readonly rocAuc?: number;
  readonly mae?: number;
  readonly r2?: number;
  /** The alarms breached, as read: 'accuracy 0.52 < 0.9'. */
  readonly breaches: readonly string[];
}

export interface QualityStatus {
  readonly state: 'not run yet' | 'ok' | 'alarm' | 'not enough labels' | 'error';
  readonly lastRun?: string;
  readonly error?: string;
  readonly windowHours: number;
  /** The manifest's monitoring.quality.alarms: the threshold lines. */
  readonly thresholds: Readonly<Record<string, number>>;
  readonly labelsWithoutPrediction?: number;
  readonly versions: readonly QualityVersionStatus[];
}

/** Features shown per version on the page: the most important by the card's permutation importance. */
export const TOP_FEATURES = 5;

/** One version's most important features, from its card's explanation.importance (issue 19). */
export interface TopFeaturesStatus {
  readonly version: string;
  /** The metric the importance is measured on, e.g. 'logLoss'. */
  readonly metric: string;
  /** What the importance is, for people: 'rise in log loss', 'drop in accuracy'. */
  readonly measure: string;
  readonly repeats: number;
  /** Held-out rows the importance was measured on. */
  readonly rows: number;
  /** At most TOP_FEATURES, most important first: mean (std) drop of the metric when the feature is shuffled. */
  readonly features: readonly { readonly name: string; readonly mean: number; readonly std: number }[];
}

/** Each version's top features, in version order; versions whose card has no importance are left out. */
export function topFeaturesStatus(versions: readonly { readonly version: number; readonly card: ModelCard }[]): TopFeaturesStatus[] {
  return [...versions]
    .sort((a, b) => a.version - b.version)
    .flatMap(({ version, card }) => {
      const importance = card.explanation?.importance;
      if (!importance) return [];
      const features = importance.features
        .map((f, i) => ({ name: f.name, mean: f.mean, std: f.std, i }))
        .sort((a, b) => b.mean - a.mean || a.i - b.i)
        .slice(0, TOP_FEATURES)
        .map(({ name, mean, std }) => ({ name, mean, std }));
      return [{ version: String(version), metric: importance.metric, measure: importanceMeasure(importance.metric), repeats: importance.repeats, rows: importance.rows, features }];
    });
}

export interface ModelStatus {
  readonly name: string;
  readonly runtime: 'lambda' | 'sagemaker';
  readonly live: number;
  /** The release's split: versions taking traffic with their share, percent. */
  readonly traffic: readonly { readonly version: number; readonly weight: number }[];
  readonly deployment?: { readonly from: number; readonly to: number; readonly weight: number; readonly strategy: string };
  readonly health: { readonly name: string; readonly state: AlarmState; readonly since: string; readonly trigger?: string };
  readonly alarms: readonly AlarmStatus[];
  /** Per version over the last `minutes` (the alarms' evaluation window): requests, errors, latency percentiles. */
  readonly recent: { readonly minutes: number; readonly versions: readonly VersionFigures[] };
  /** Per version since the gateway started. */
  readonly sinceStart: readonly VersionFigures[];
  readonly drift: DriftStatus;
  /** The quality monitor's figures per version. @default - not shown */
  readonly quality?: QualityStatus;
  /** Each loaded version's top features by permutation importance (topFeaturesStatus). @default - not shown */
  readonly topFeatures?: readonly TopFeaturesStatus[];
}

export interface AlertLine {
  readonly time: string;
  readonly level: string;
  readonly model: string;
  readonly event: string;
  readonly message: string;
  readonly body?: string;
}

export interface StatusSnapshot {
  readonly project: string;
  readonly stage: string;
  readonly time: string;
  readonly timeScale: number;
  /**
   * The drift monitor: its schedule, its own health (runs succeeded, failed and skipped, the latest error,
   * the recent runs), the state folder's bounds (size, cap, what was dropped) and the capture writer's counts.
   */
  readonly monitor: { readonly intervalSeconds: number; readonly windowMinutes: number; readonly runs: number } & Partial<MonitorHealth> & {
      readonly storage?: StateBoundsStatus;
      readonly capture?: CaptureFileStats;
    };
  readonly models: readonly ModelStatus[];
  /** Errors no code caught in this process (local/serving/process-faults.ts): a rejection is survived, an exception is not. */
  readonly process?: ProcessFaultCounts;
  /** Newest first. */
  readonly alerts: readonly AlertLine[];
}

/** How often the page asks for /status.json, ms. */
export const STATUS_REFRESH_MS = 2000;

// The page's script: plain browser JavaScript (no framework), text only through textContent.
const SCRIPT = `
'use strict';
const REFRESH_MS = ${STATUS_REFRESH_MS};
function el(tag, attrs, children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  for (const child of children || []) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}
function ms(x) { return x === null || x === undefined ? '-' : (x >= 100 ? x.toFixed(0) : x.toFixed(1)) + ' ms'; }
function num(x, digits) { return x === null || x === undefined ? '-' : (Math.abs(x) < 0.001 && x !== 0 ? x.toExponential(1) : x.toFixed(digits)); }
function figure(value, unit) {
  if (value === undefined || value === null) return '-';
  const rounded = Math.abs(value) >= 100 ? Math.round(value) : Math.round(value * 100) / 100;
  return unit === '%' ? rounded + '%' : unit ? rounded + ' ' + unit : String(rounded);
}
function clock(iso) { return iso ? iso.replace('T', ' ').slice(0, 19) + ' UTC' : '-'; }
function table(headers, rows, cls) {
  return el('table', cls ? { class: cls } : {}, [
    el('thead', {}, [el('tr', {}, headers.map((h) => el('th', {}, [h])))]),
    el('tbody', {}, rows.map((r) => el('tr', r.attrs || {}, r.cells.map((c) => el('td', {}, [c]))))),
  ]);
}
function state(s) { return el('span', { class: 'state state-' + s.toLowerCase().replace(/[^a-z]+/g, '-') }, [s]); }
function span(minutes) { return minutes < 1 ? num(minutes * 60, 1) + ' s' : num(minutes, minutes < 10 ? 1 : 0) + ' min'; }
function versions(list, cls) {
  if (list.length === 0) return el('p', { class: 'empty' }, ['no requests']);
  const total = list.reduce((s, v) => s + v.requests, 0);
  return table(['version', 'requests', 'share', '4xx', '5xx', 'throttled', 'p50', 'p90', 'p99'],
    list.map((v) => ({ attrs: { 'data-version': v.version }, cells: [v.version === '-' ? 'before routing' : 'v' + v.version, v.requests, total ? Math.round((100 * v.requests) / total) + '%' : '-', v.clientErrors, v.serverErrors, v.throttles, ms(v.p50Ms), ms(v.p90Ms), ms(v.p99Ms)] })), cls);
}
function model(m) {
  const split = m.traffic.map((t) => 'v' + t.version + ' ' + t.weight + '%').join(' + ');
  const section = el('section', { class: 'model', 'data-model': m.name }, [
    el('h2', {}, [m.name, ' ', state(m.health.state)]),
    el('p', { class: 'summary' }, [
      'live v' + m.live + ' (' + m.runtime + ') · traffic split: ',
      el('strong', { class: 'split' }, [split]),
      m.deployment ? ' · deploying v' + m.deployment.from + ' → v' + m.deployment.to + ' (' + m.deployment.strategy + ', ' + m.deployment.weight + '%)' : '',
    ]),
    el('h3', {}, ['Last ' + span(m.recent.minutes) + ' (the alarms\u2019 window)']),
    versions(m.recent.versions, 'recent'),
    el('h3', {}, ['Since start']),
    versions(m.sinceStart, 'since-start'),
    el('h3', {}, ['Alarms']),
    table(['alarm', 'state', 'figure', 'threshold'],
      m.alarms.map((a) => ({ attrs: { 'data-alarm': a.kind }, cells: [a.kind + (a.inComposite ? '' : ' (not in health)'), state(a.state), figure(a.value, a.unit), a.comparison + ' ' + figure(a.threshold, a.unit)] })), 'alarms'),
    topFeatures(m.topFeatures),
    drift(m.drift),
    quality(m.quality),
  ]);
  return section;
}
function topFeatures(list) {
  if (!list || list.length === 0) return '';
  const parts = [el('h3', {}, ['Top features'])];
  for (const v of list) {
    parts.push(el('p', { class: 'meta' }, ['v' + v.version + ': importance = ' + v.measure + ' on ' + v.rows + ' held-out rows when the feature is shuffled (mean \u00b1 std over ' + v.repeats + ' shuffles)']));
    parts.push(table(['#', 'feature', v.measure],
      v.features.map((f, i) => ({ attrs: { 'data-top-feature': v.version }, cells: [i + 1, f.name, num(f.mean, 4) + ' \u00b1 ' + num(f.std, 4)] })), 'top-features'));
  }
  return el('div', { class: 'top-features' }, parts);
}
function quality(q) {
  if (!q) return '';
  const head = el('h3', {}, ['Quality ', state(q.state)]);
  const parts = [head];
  const limits = Object.entries(q.thresholds || {}).map(([k, v]) => k + ' ' + v).join(', ');
  parts.push(el('p', { class: 'meta' }, ['labels joined with the predictions of the last ' + num(q.windowHours, 1) + ' h' + (q.lastRun ? ', last run ' + clock(q.lastRun) : '') + (limits ? ' · alarms: ' + limits : ' · no quality alarm set') + (q.labelsWithoutPrediction ? ' · ' + q.labelsWithoutPrediction + ' labels without a prediction in the window' : '')]));
  if (q.error) parts.push(el('p', { class: 'error' }, [q.error]));
  if (q.versions.length > 0) {
    parts.push(table(['version', 'labelled', 'coverage', 'accuracy (95% interval)', 'macro-F1', 'ROC AUC', 'MAE', 'R²', 'verdict'],
      q.versions.map((v) => ({ attrs: { 'data-quality-version': v.version, class: v.breaches.length > 0 ? 'quality-alarm' : '' }, cells: [
        'v' + v.version, v.labelled + ' of ' + v.predictions, num(v.coverage * 100, 1) + '%',
        v.accuracy ? num(v.accuracy.value, 3) + ' (' + num(v.accuracy.low, 3) + ' to ' + num(v.accuracy.high, 3) + ')' : '-',
        num(v.macroF1, 3), num(v.rocAuc, 3), num(v.mae, 3), num(v.r2, 3),
        v.verdict === 'judged' ? (v.breaches.length > 0 ? 'ALARM: ' + v.breaches.join('; ') : 'ok') : 'not enough labels (' + v.labelled + ' of at least ' + v.minLabels + ')',
      ] })), 'quality'));
  }
  return el('div', { class: 'quality' }, parts);
}
function drift(d) {
  const head = el('h3', {}, ['Drift ', state(d.state)]);
  const parts = [head];
  if (d.state === 'not run yet') parts.push(el('p', { class: 'empty' }, ['the monitor has not run yet']));
  if (d.error) parts.push(el('p', { class: 'error' }, [d.error]));
  if (d.lastRun && d.rows !== undefined) parts.push(el('p', {}, ['last run ' + clock(d.lastRun) + ' over v' + d.version + ': ' + d.rows + ' captured rows (at least ' + d.minSampleSize + ' to judge)' + (d.predictions ? ' · predictions ' + (d.predictions.drifting ? 'drift' : 'stable') + ' (JS ' + num(d.predictions.jsDistance, 3) + ')' : '')]));
  if (d.summary) parts.push(el('p', { class: 'drift-summary' }, [d.summary]));
  if (d.features.length > 0) {
    const ranked = d.features.some((f) => f.importance);
    const important = (f) => f.drifting && f.importance && f.importance.important;
    parts.push(table(['feature', 'PSI', ...(ranked ? ['importance'] : []), 'KS', 'KS p', 'JS', ''],
      d.features.map((f) => ({ attrs: { class: f.drifting ? 'drifting' : '' }, cells: [f.name, num(f.psi, 3), ...(ranked ? [f.importance ? '#' + f.importance.rank + ' (' + num(f.importance.mean, 4) + ')' : '-'] : []), num(f.ksStatistic, 3), num(f.ksPValue, 4), num(f.jsDistance, 3), important(f) ? 'drifting, important' : f.drifting ? 'drifting' : ''] })), 'features'));
    if (ranked) parts.push(el('p', { class: 'meta' }, ['importance: rank by the card\u2019s permutation importance (#1 the most important: how much worse the held-out metric gets when the feature is shuffled); a drifting feature among the 5 most important moves the model\u2019s output, a drifting unimportant one matters less']));
  }
  return el('div', { class: 'drift' }, parts);
}
function alerts(list) {
  if (list.length === 0) return el('p', { class: 'empty' }, ['no alerts yet']);
  return el('ol', { class: 'alerts' }, list.map((a) => el('li', { class: 'alert level-' + a.level }, [
    el('span', { class: 'time' }, [clock(a.time)]), ' ',
    el('span', { class: 'subject' }, [a.event === 'monitoring' ? a.message : a.model + ': ' + a.message]),
    a.body ? el('details', {}, [el('summary', {}, ['details']), el('pre', {}, [a.body])]) : '',
  ])));
}
function mib(bytes) { return bytes === null || bytes === undefined ? '-' : (bytes / 1048576).toFixed(bytes < 10485760 ? 1 : 0) + ' MiB'; }
function monitorLines(m) {
  const lines = [];
  if (m.state === 'failing') lines.push(el('p', { class: 'fault monitor-failing' }, ['drift monitor failing: ' + m.consecutiveFailures + ' failed run' + (m.consecutiveFailures === 1 ? '' : 's') + ' in a row (latest ' + clock(m.lastError && m.lastError.at) + ': ' + (m.lastError ? m.lastError.message : '') + '); drift is not watched until a run succeeds']));
  if (m.succeeded !== undefined) lines.push(el('p', { class: 'meta monitor-runs' }, ['monitor runs: ' + m.succeeded + ' succeeded, ' + m.failed + ' failed, ' + m.skipped + ' skipped (a run still going)' + (m.running ? ' · running now' : '')]));
  const st = m.storage;
  if (st) {
    const dropped = st.dropped.byCap.files + st.dropped.byAge.files === 0 ? 'nothing dropped' : 'dropped since start: ' + st.dropped.byCap.files + ' capture files (' + mib(st.dropped.byCap.bytes) + ') over the cap, ' + st.dropped.byAge.files + ' (' + mib(st.dropped.byAge.bytes) + ') past ' + num(st.retentionDays, 2) + ' days';
    lines.push(el('p', { class: (st.overCap ? 'fault' : 'meta') + ' state-folder' }, ['state folder ' + mib(st.stateBytes) + ' of its ' + mib(st.capBytes) + ' cap' + (st.overCap ? ' (over it: nothing left to drop but files that are not captures)' : '') + ' · ' + dropped]));
  }
  if (m.capture && m.capture.linesDropped > 0) lines.push(el('p', { class: 'fault' }, ['capture: ' + m.capture.linesDropped + ' lines dropped (the disk did not keep up, or an append failed)']));
  return lines;
}
function render(s) {
  const main = document.getElementById('status');
  const open = new Set([...main.querySelectorAll('details[open]')].map((d) => d.parentElement && d.parentElement.textContent));
  main.replaceChildren(
    el('p', { class: 'meta' }, [s.project + ' · ' + s.stage + ' · updated ' + clock(s.time) + (s.timeScale !== 1 ? ' · time scale ' + s.timeScale : '') + ' · drift monitor every ' + s.monitor.intervalSeconds + ' s over ' + num(s.monitor.windowMinutes, 1) + ' min, ' + s.monitor.runs + ' runs']),
    ...monitorLines(s.monitor),
    ...(s.process && s.process.unhandledRejections > 0 ? [el('p', { class: 'fault' }, [s.process.unhandledRejections + ' unhandled promise rejection' + (s.process.unhandledRejections === 1 ? '' : 's') + ' since start (latest ' + clock(s.process.last.at) + ': ' + s.process.last.message + '); the stack is on stderr'])] : []),
    el('h2', {}, ['Recent alerts']),
    alerts(s.alerts),
    ...s.models.map(model),
  );
  for (const d of main.querySelectorAll('details')) if (open.has(d.parentElement && d.parentElement.textContent)) d.open = true;
  document.body.dataset.loaded = 'true';
}
async function refresh() {
  try {
    const response = await fetch('status.json', { cache: 'no-store' });
    if (!response.ok) throw new Error('status.json answered ' + response.status);
    render(await response.json());
    document.getElementById('problem').textContent = '';
  } catch (error) {
    document.getElementById('problem').textContent = 'cannot reach the gateway: ' + error.message;
  }
}
refresh();
setInterval(refresh, REFRESH_MS);
`;

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1b1f24; max-width: 70rem; }
h1 { font-size: 1.4rem; margin: 0 0 .2rem; } h2 { font-size: 1.15rem; margin: 1.6rem 0 .4rem; } h3 { font-size: .95rem; margin: 1rem 0 .3rem; }
table { border-collapse: collapse; margin: .2rem 0; } th, td { padding: .2rem .6rem; border-bottom: 1px solid #d8dee4; text-align: right; }
th:first-child, td:first-child { text-align: left; } th { font-weight: 600; background: #f6f8fa; }
.state { font-size: .75rem; font-weight: 600; padding: .1rem .4rem; border-radius: .6rem; background: #eaeef2; vertical-align: middle; }
.state-alarm, .state-drift { background: #ffebe9; color: #a40e26; } .state-ok, .state-no-drift { background: #dafbe1; color: #116329; }
tr.drifting td, tr.quality-alarm td { background: #fff8c5; } .state-not-enough-labels { background: #eaeef2; } .meta, .empty { color: #57606a; } .error, #problem { color: #a40e26; }
.fault { color: #a40e26; } .alerts { padding-left: 1.2rem; } .alert { margin: .3rem 0; } .level-critical .subject { color: #a40e26; font-weight: 600; }
.time { color: #57606a; font-variant-numeric: tabular-nums; } pre { background: #f6f8fa; padding: .6rem; overflow-x: auto; }
section.model { border-top: 2px solid #d8dee4; margin-top: 1.5rem; }
`;

const SCRIPT_HASH = createHash('sha256').update(SCRIPT).digest('base64');

export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mlship status</title>
<style>${STYLE}</style>
</head>
<body>
<h1>mlship status</h1>
<p id="problem" role="alert"></p>
<main id="status"><p class="empty">loading...</p></main>
<script>${SCRIPT}</script>
</body>
</html>
`;

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': `default-src 'none'; script-src 'sha256-${SCRIPT_HASH}'; style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
};

/**
 * Answers GET (and HEAD) / with the page and /status.json with the snapshot; returns false for any other
 * path, which the caller routes as before.
 */
export function serveStatus(req: IncomingMessage, res: ServerResponse, path: string, snapshot: () => StatusSnapshot): boolean {
  if (path !== '/' && path !== '/status.json') return false;
  req.resume();
  const method = req.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD') {
    const body = JSON.stringify({ error: { code: 'method_not_allowed', message: `use GET on ${path}` } });
    res.writeHead(405, { 'content-type': 'application/json', allow: 'GET, HEAD', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    return true;
  }
  const body = path === '/' ? STATUS_PAGE_HTML : JSON.stringify(snapshot());
  const headers = path === '/' ? PAGE_HEADERS : { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
  res.writeHead(200, { ...headers, 'content-length': Buffer.byteLength(body) });
  res.end(method === 'HEAD' ? undefined : body);
  return true;
}
