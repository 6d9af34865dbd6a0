// `npm run soak -- --minutes N`: monitoring at production volume, measured. Starts npm start's bundle (a free
// port, a throw-away state folder, the drift monitor every 30 s), drives it from a separate process (autocannon,
// 16 connections, batches of 64 breast-cancer rows, the rows of the shipped data set) and prints, per 15-second
// slice: requests/s, p99, the gateway's RSS (VmRSS, the slice's highest), the state folder's size, and the monitor
// runs that succeeded, failed and were skipped (status.json). The load warms up until the first monitor run (its
// highest RSS is the serving-only baseline, or a serving-only run first with --baseline-minutes); the slices then
// follow the monitor's ticks, so a run shorter than a slice falls in every other one. Then the goals of issue 24:
// p99 of the slices with a monitor run at most 1.2x the others', peak RSS at most 2x serving-only, the state
// folder within its cap, no failed run.
// Usage: npm run soak -- [--minutes N] [--connections 16] [--batch 64] [--monitor-interval 30] [--state-max-mb N]
//        [--baseline-minutes M] [--slice-seconds 15] [--manifest FILE] [--json]
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readCsvFile, toNumericTable } from '../lambdas/core/common/csv';
import { loadManifest, resolveManifestPath } from '../lambdas/core/manifest/load';
import { buildLocalGateway } from './build-local';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const MODEL = 'breast-cancer';

export interface SoakOptions {
  readonly minutes: number;
  readonly connections: number;
  readonly batch: number;
  readonly monitorIntervalSeconds: number;
  /** The state folder's cap, MiB. @default the manifest's monitoring.localStateMaxMb */
  readonly stateMaxMb?: number;
  /** A serving-only run of this many minutes first, for the RSS baseline. 0: the slices before the first monitor run. */
  readonly baselineMinutes: number;
  readonly sliceSeconds: number;
  readonly manifestPath: string;
}

export interface Slice {
  readonly index: number;
  readonly requestsPerSecond: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly non2xx: number;
  /** The gateway's highest VmRSS in the slice, MiB. */
  readonly rssMb: number;
  /** The state folder's size at the slice's end, MiB. */
  readonly stateMb: number;
  readonly monitor: { readonly succeeded: number; readonly failed: number; readonly skipped: number };
  /** A monitor run overlapped the slice. */
  readonly withRun: boolean;
}

interface Run {
  readonly started: string;
  readonly finished?: string;
  readonly status: string;
}

interface StatusJson {
  readonly monitor: { succeeded?: number; failed?: number; skipped?: number; recentRuns?: Run[]; lastError?: { message: string }; storage?: { capBytes: number; dropped: { byCap: { files: number; bytes: number }; byAge: { files: number; bytes: number } } } };
}

/** Bodies of `batch` rows each, cut from the shipped data set in turn (a realistic mix, not one row repeated). */
function bodies(batch: number): string[] {
  const table = toNumericTable(readCsvFile(join(REPO, 'models', MODEL, 'data', 'breast_cancer.csv')), 'diagnosis');
  const width = table.features.length;
  const rows = table.x.data.length / width;
  const out: string[] = [];
  for (let start = 0; start + batch <= rows; start += batch) {
    out.push(JSON.stringify({ instances: Array.from({ length: batch }, (_, i) => Array.from(table.x.data.subarray((start + i) * width, (start + i + 1) * width))) }));
  }
  return out;
}

/** The load process: autocannon's API in its own node, one JSON line per finished slice on stdout. */
const LOAD_SCRIPT = `
import autocannon from 'autocannon';
const cfg = JSON.parse(process.env.SOAK_LOAD);
// Until the parent sends the first slice's start on stdin, answers count in no slice (the warm-up); 'stop' ends the load.
let startAt = Infinity;
const slices = new Map();
const sliceOf = () => Math.floor((Date.now() - startAt) / cfg.sliceMs);
const get = (i) => { let s = slices.get(i); if (!s) { s = { lat: [], errors: 0, non2xx: 0 }; slices.set(i, s); } return s; };
let printed = 0;
const emit = (upTo) => {
  for (; printed < upTo; printed++) {
    const s = slices.get(printed) ?? { lat: [], errors: 0, non2xx: 0 };
    s.lat.sort((a, b) => a - b);
    const p99 = s.lat.length ? s.lat[Math.max(0, Math.ceil(0.99 * s.lat.length) - 1)] : null;
    process.stdout.write(JSON.stringify({ slice: printed, requests: s.lat.length, p99, errors: s.errors, non2xx: s.non2xx }) + '\\n');
    slices.delete(printed);
  }
};
const instance = autocannon({
  url: cfg.url, connections: cfg.connections, duration: cfg.maxSeconds,
  requests: cfg.bodies.map((body) => ({ method: 'POST', path: cfg.path, headers: { 'content-type': 'application/json' }, body })),
});
instance.on('response', (_client, status, _bytes, ms) => { const i = sliceOf(); if (i < 0) return; const s = get(i); s.lat.push(ms); if (status < 200 || status > 299) s.non2xx++; });
instance.on('reqError', () => { const i = sliceOf(); if (i >= 0) get(i).errors++; });
const timer = setInterval(() => { if (startAt !== Infinity) emit(sliceOf()); }, 250);
process.stdin.setEncoding('utf8');
process.stdin.on('data', (text) => {
  for (const line of text.split(String.fromCharCode(10)).filter(Boolean)) {
    const message = JSON.parse(line);
    if (message.startAt) startAt = message.startAt;
    if (message.stop) instance.stop();
  }
});
instance.on('done', () => { clearInterval(timer); emit(Math.max(0, sliceOf())); process.exit(0); });
`;

function rssMb(pid: number): number {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await folderBytes(path);
    else if (entry.isFile()) total += await stat(path).then((s) => s.size, () => 0);
  }
  return total;
}

async function startGateway(bundle: string, args: string[]): Promise<{ url: string; child: ChildProcess; stderr: () => string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0' };
  delete env.MLSHIP_API_KEY;
  const child = spawn(process.execPath, [bundle, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-20_000)));
  const deadline = Date.now() + 60_000;
  while (!stdout.includes('Ctrl-C')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the gateway did not start:\n${stderr || stdout}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const url = /serving \d+ models? on (http:\/\/\S+)/.exec(stdout)?.[1];
  if (!url) throw new Error(`no URL in the gateway's banner:\n${stdout}`);
  return { url, child, stderr: () => stderr };
}

async function statusJson(url: string): Promise<StatusJson | undefined> {
  try {
    const res = await fetch(`${url}/status.json`, { signal: AbortSignal.timeout(5000) });
    return (await res.json()) as StatusJson;
  } catch {
    return undefined;
  }
}

interface Phase {
  readonly slices: Slice[];
  readonly runs: Map<string, Run>;
  readonly startAt: number;
  readonly sliceMs: number;
  readonly final: StatusJson | undefined;
  readonly gatewayExit: number | null;
  readonly stateDir: string;
  /** The gateway's highest RSS under load before the first monitor run (serving only), MiB. */
  readonly warmupRssMb: number;
}

/** One gateway, one load for `seconds`; `onSlice` hears each slice as it ends. */
async function phase(bundle: string, options: SoakOptions, seconds: number, monitorInterval: number, onSlice: (slice: Slice) => void): Promise<Phase> {
  const stateDir = mkdtempSync(join(tmpdir(), 'mlship-soak-'));
  const args = ['--manifest', options.manifestPath, '--state-dir', stateDir, '--monitor-interval', String(monitorInterval), ...(options.stateMaxMb !== undefined ? ['--state-max-mb', String(options.stateMaxMb)] : [])];
  const gateway = await startGateway(bundle, args);
  const pid = gateway.child.pid!;
  const sliceMs = options.sliceSeconds * 1000;
  const loadStarted = Date.now();
  let startAt = Infinity;
  const rss = new Map<number, number>();
  let warmupRssMb = 0;
  const runs = new Map<string, Run>();
  const sampler = setInterval(() => {
    const now = rssMb(pid);
    if (!Number.isFinite(now)) return;
    const i = Math.floor((Date.now() - startAt) / sliceMs);
    if (i >= 0) rss.set(i, Math.max(rss.get(i) ?? 0, now));
    // Serving only: the load before the first monitor run, past its first seconds (connections, JIT).
    else if (Date.now() - loadStarted > 5000 && runs.size === 0) warmupRssMb = Math.max(warmupRssMb, now);
  }, 250);
  const slices: Slice[] = [];
  const load = spawn(process.execPath, ['--input-type=module', '-e', LOAD_SCRIPT], {
    cwd: REPO,
    env: { ...process.env, SOAK_LOAD: JSON.stringify({ url: gateway.url, path: `/v1/models/${MODEL}:predict`, bodies: bodies(options.batch), connections: options.connections, maxSeconds: seconds + 3 * monitorInterval + 60, sliceMs }) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = once(load, 'exit');
  // The slices follow the monitor's ticks: the first begins a second before the tick after the first run, so a
  // run shorter than a slice falls in every other slice (with the monitor every 30 s and 15-s slices).
  if (monitorInterval < 3600) {
    const deadline = Date.now() + (monitorInterval + 60) * 1000;
    for (;;) {
      const first = (await statusJson(gateway.url))?.monitor.recentRuns?.at(-1);
      if (first) {
        runs.set(first.started, first);
        startAt = Date.parse(first.started) + monitorInterval * 1000 - 1000;
        break;
      }
      if (Date.now() > deadline) throw new Error('the monitor did not run');
      await new Promise((r) => setTimeout(r, 200));
    }
  } else {
    startAt = Date.now() + 5000;
  }
  load.stdin!.write(`${JSON.stringify({ startAt })}\n`);
  const stopper = setTimeout(() => load.stdin!.write(`${JSON.stringify({ stop: true })}\n`), Math.max(0, startAt + seconds * 1000 - Date.now()));
  const lines = createInterface({ input: load.stdout! });
  let work = Promise.resolve();
  lines.on('line', (line) => {
    work = work.then(async () => {
      const figures = JSON.parse(line) as { slice: number; requests: number; p99: number | null; errors: number; non2xx: number };
      // The slice the load was stopped in is cut short: not a slice.
      if ((figures.slice + 1) * options.sliceSeconds > seconds) return;
      const status = await statusJson(gateway.url);
      for (const run of status?.monitor.recentRuns ?? []) runs.set(run.started, run);
      const from = startAt + figures.slice * sliceMs;
      const slice: Slice = {
        index: figures.slice,
        requestsPerSecond: figures.requests / options.sliceSeconds,
        p99Ms: figures.p99 ?? NaN,
        errors: figures.errors,
        non2xx: figures.non2xx,
        rssMb: rss.get(figures.slice) ?? rssMb(pid),
        stateMb: (await folderBytes(stateDir)) / 1024 / 1024,
        monitor: { succeeded: status?.monitor.succeeded ?? 0, failed: status?.monitor.failed ?? 0, skipped: status?.monitor.skipped ?? 0 },
        withRun: overlaps([...runs.values()], from, from + sliceMs),
      };
      slices.push(slice);
      onSlice(slice);
    });
  });
  await exited;
  clearTimeout(stopper);
  await work;
  clearInterval(sampler);
  const final = await statusJson(gateway.url);
  for (const run of final?.monitor.recentRuns ?? []) runs.set(run.started, run);
  // The runs' flags again with every run known (one may have begun late in a slice).
  const known = [...runs.values()];
  const settled = slices.map((s) => ({ ...s, withRun: overlaps(known, startAt + s.index * sliceMs, startAt + (s.index + 1) * sliceMs) }));
  gateway.child.kill('SIGTERM');
  const [gatewayExit] = (await once(gateway.child, 'exit')) as [number | null];
  return { slices: settled, runs, startAt, sliceMs, final, gatewayExit, stateDir, warmupRssMb };
}

function overlaps(runs: readonly Run[], from: number, to: number): boolean {
  return runs.some((r) => {
    const start = Date.parse(r.started);
    const end = r.finished ? Date.parse(r.finished) : Date.now();
    return start < to && end >= from;
  });
}

const mean = (xs: readonly number[]) => (xs.length === 0 ? NaN : xs.reduce((s, x) => s + x, 0) / xs.length);
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');

export function sliceLine(s: Slice, sliceSeconds: number): string {
  return `${String(s.index * sliceSeconds).padStart(5)} s  ${f1(s.requestsPerSecond).padStart(8)} req/s  p99 ${f1(s.p99Ms).padStart(7)} ms  RSS ${f1(s.rssMb).padStart(7)} MiB  state ${f1(s.stateMb).padStart(8)} MiB  monitor ${s.monitor.succeeded} ok ${s.monitor.failed} failed ${s.monitor.skipped} skipped${s.withRun ? '  [run]' : ''}${s.errors + s.non2xx > 0 ? `  errors ${s.errors} non-2xx ${s.non2xx}` : ''}`;
}

export interface SoakSummary {
  readonly p99WithRunMs: number;
  readonly p99OthersMs: number;
  readonly p99Ratio: number;
  readonly peakRssMb: number;
  readonly baselineRssMb: number;
  readonly rssRatio: number;
  readonly peakStateMb: number;
  readonly capMb: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly skipped: number;
  readonly dropped: { readonly byCapFiles: number; readonly byCapMb: number; readonly byAgeFiles: number };
  readonly requestsPerSecond: number;
  /** The monitor runs' durations, ms. */
  readonly runMs: { readonly mean: number; readonly max: number };
  readonly errors: number;
  readonly goals: { readonly p99: boolean; readonly rss: boolean; readonly state: boolean; readonly failed: boolean };
}

function runDurations(runs: ReadonlyMap<string, Run>): { mean: number; max: number } {
  const ms = [...runs.values()].filter((r) => r.finished).map((r) => Date.parse(r.finished!) - Date.parse(r.started));
  return { mean: mean(ms), max: ms.length ? Math.max(...ms) : NaN };
}

export function summarise(main: Phase, baselineRssMb: number | undefined, capMb: number): SoakSummary {
  // The load warmed up before the first slice (until the first monitor run): every slice is judged.
  const judged = main.slices.filter((s) => Number.isFinite(s.p99Ms));
  const withRun = judged.filter((s) => s.withRun).map((s) => s.p99Ms);
  const others = judged.filter((s) => !s.withRun).map((s) => s.p99Ms);
  const baseline = baselineRssMb ?? main.warmupRssMb;
  const peakRssMb = Math.max(...main.slices.map((s) => s.rssMb));
  const peakStateMb = Math.max(...main.slices.map((s) => s.stateMb));
  const m = main.final?.monitor;
  const p99WithRunMs = mean(withRun);
  const p99OthersMs = mean(others);
  const dropped = m?.storage?.dropped;
  const summary = {
    p99WithRunMs,
    p99OthersMs,
    p99Ratio: p99WithRunMs / p99OthersMs,
    peakRssMb,
    baselineRssMb: baseline,
    rssRatio: peakRssMb / baseline,
    peakStateMb,
    capMb,
    succeeded: m?.succeeded ?? 0,
    failed: m?.failed ?? 0,
    skipped: m?.skipped ?? 0,
    dropped: { byCapFiles: dropped?.byCap.files ?? 0, byCapMb: (dropped?.byCap.bytes ?? 0) / 1024 / 1024, byAgeFiles: dropped?.byAge.files ?? 0 },
    requestsPerSecond: mean(main.slices.map((s) => s.requestsPerSecond)),
    runMs: runDurations(main.runs),
    errors: main.slices.reduce((n, s) => n + s.errors + s.non2xx, 0),
  };
  return { ...summary, goals: { p99: Number.isNaN(summary.p99Ratio) || summary.p99Ratio <= 1.2, rss: summary.rssRatio <= 2, state: peakStateMb <= capMb, failed: summary.failed === 0 && summary.succeeded > 0 } };
}

export function formatSummary(s: SoakSummary): string {
  const goal = (ok: boolean) => (ok ? 'met' : 'NOT MET');
  return [
    'summary:',
    `  throughput     ${f1(s.requestsPerSecond)} req/s; ${s.errors} errors or non-2xx`,
    `  p99            ${f1(s.p99WithRunMs)} ms in slices with a monitor run, ${f1(s.p99OthersMs)} ms in the others (means of the slices' p99): ratio ${Number.isNaN(s.p99Ratio) ? '- (too few slices of one kind)' : s.p99Ratio.toFixed(2)} (goal <= 1.2: ${goal(s.goals.p99)})`,
    `  peak RSS       ${f1(s.peakRssMb)} MiB vs ${f1(s.baselineRssMb)} MiB serving only: ${s.rssRatio.toFixed(2)}x (goal <= 2x: ${goal(s.goals.rss)})`,
    `  state folder   peak ${f1(s.peakStateMb)} MiB of its ${f1(s.capMb)} MiB cap (${goal(s.goals.state)}); dropped ${s.dropped.byCapFiles} capture files (${f1(s.dropped.byCapMb)} MiB) over the cap, ${s.dropped.byAgeFiles} by age`,
    `  monitor runs   ${s.succeeded} succeeded, ${s.failed} failed, ${s.skipped} skipped; ${f1(s.runMs.mean / 1000)} s each on average, ${f1(s.runMs.max / 1000)} s at most (goal 0 failed: ${goal(s.goals.failed)})`,
  ].join('\n');
}

export async function runSoak(options: SoakOptions, print: (line: string) => void): Promise<SoakSummary> {
  const bundle = await buildLocalGateway();
  const capMb = options.stateMaxMb ?? loadManifest(options.manifestPath).manifest.monitoring.localStateMaxMb;
  let baselineRssMb: number | undefined;
  const dirs: string[] = [];
  try {
    if (options.baselineMinutes > 0) {
      print(`serving only (no monitor run) for ${options.baselineMinutes} min: the RSS baseline`);
      const base = await phase(bundle, options, options.baselineMinutes * 60, 86_400, (s) => print(sliceLine(s, options.sliceSeconds)));
      dirs.push(base.stateDir);
      baselineRssMb = Math.max(...base.slices.map((s) => s.rssMb));
    }
    print(`soak: ${options.minutes} min, ${options.connections} connections, batches of ${options.batch} to ${MODEL}, monitor every ${options.monitorIntervalSeconds} s, state folder cap ${capMb} MiB (${availableParallelism()} cores, ${cpus()[0]?.model ?? 'unknown CPU'})`);
    const main = await phase(bundle, options, options.minutes * 60, options.monitorIntervalSeconds, (s) => print(sliceLine(s, options.sliceSeconds)));
    dirs.push(main.stateDir);
    if (main.gatewayExit !== 0) print(`the gateway exited ${main.gatewayExit} on SIGTERM`);
    return summarise(main, baselineRssMb, capMb);
  } finally {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}

function usage(message: string): never {
  process.stderr.write(`soak: ${message}\nusage: npm run soak -- [--minutes N] [--connections 16] [--batch 64] [--monitor-interval 30] [--state-max-mb N] [--baseline-minutes M] [--slice-seconds 15] [--manifest FILE] [--json]\n`);
  process.exit(2);
}

function numberFlag(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!(Number.isFinite(value) && value >= min && value <= max)) usage(`--${name} must be a number from ${min} to ${max}, received '${raw}'`);
  return value;
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({
      options: {
        minutes: { type: 'string' },
        connections: { type: 'string' },
        batch: { type: 'string' },
        'monitor-interval': { type: 'string' },
        'state-max-mb': { type: 'string' },
        'baseline-minutes': { type: 'string' },
        'slice-seconds': { type: 'string' },
        manifest: { type: 'string' },
        json: { type: 'boolean' },
      },
      strict: true,
    }).values;
  } catch (error) {
    usage((error as Error).message);
  }
  const options: SoakOptions = {
    minutes: numberFlag('minutes', args.minutes, 10, 0.25, 24 * 60),
    connections: numberFlag('connections', args.connections, 16, 1, 1000),
    batch: numberFlag('batch', args.batch, 64, 1, 500),
    monitorIntervalSeconds: numberFlag('monitor-interval', args['monitor-interval'], 30, 1, 86_400),
    ...(args['state-max-mb'] !== undefined ? { stateMaxMb: numberFlag('state-max-mb', args['state-max-mb'], 2048, 1, 1_048_576) } : {}),
    baselineMinutes: numberFlag('baseline-minutes', args['baseline-minutes'], 0, 0, 60),
    sliceSeconds: numberFlag('slice-seconds', args['slice-seconds'], 15, 1, 600),
    manifestPath: resolveManifestPath(args.manifest),
  };
  const summary = await runSoak(options, (line) => process.stdout.write(`${line}\n`));
  process.stdout.write(`${args.json ? JSON.stringify(summary, null, 2) : formatSummary(summary)}\n`);
  process.exitCode = Object.values(summary.goals).every(Boolean) ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    process.stderr.write(`soak: failed: ${(error as Error).message}\n`);
    process.exit(1);
  });
}
