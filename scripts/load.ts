// `npm run load`: drives `npm start`'s bundle, in its own process, with autocannon: 64 connections for 60 s
// by default, every connection cycling through a mix of each manifest model's routes (v1 :predict and v2
// infer, batch 1 and larger batches, the golden cases as inputs). Prints requests, throughput, p50/p99
// latency, errors and non-2xx answers per route; exits 1 on any error or non-2xx answer, 2 on a usage error.
// Usage: npm run load -- [--connections N] [--duration SECONDS] [--manifest FILE] [--json]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { loadManifest, ManifestError, resolveManifestPath, type LoadedModel } from '../lambdas/core/manifest/load';
import { buildLocalGateway } from './build-local';

/** Batch sizes sent to each model on each route: one instance, and a few larger batches. */
export const LOAD_BATCH_SIZES = [1, 8, 32] as const;

export interface LoadOptions {
  /** The manifest whose models the gateway serves and the load targets. */
  readonly manifestPath: string;
  /** @default 64 */
  readonly connections?: number;
  /** Seconds. @default 60 */
  readonly durationSeconds?: number;
}

export interface RouteFigures {
  readonly route: string;
  readonly requests: number;
  readonly non2xx: number;
  /** Status codes other than 2xx, with their counts. */
  readonly statuses: Readonly<Record<string, number>>;
}

export interface LoadResult {
  readonly connections: number;
  readonly durationSeconds: number;
  /** Requests answered. */
  readonly requests: number;
  readonly requestsPerSecond: number;
  /** Instances scored per second (requests times their batch size). */
  readonly instancesPerSecond: number;
  readonly bytesPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Connection errors and timeouts. */
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  readonly routes: readonly RouteFigures[];
  /** The gateway process's exit code after SIGTERM (0: it drained and stopped cleanly). */
  readonly gatewayExitCode: number | null;
}

interface LoadRequest {
  readonly route: string;
  readonly path: string;
  readonly body: string;
  readonly instances: number;
}

/** Each model's v1 and v2 requests at each batch size, the instances cycling through its golden inputs. */
export function loadRequests(models: readonly LoadedModel[]): LoadRequest[] {
  const requests: LoadRequest[] = [];
  for (const { entry, card } of models) {
    const inputs = card.golden.length > 0 ? card.golden.map((g) => g.input) : [card.input.features.map(() => 0)];
    for (const size of LOAD_BATCH_SIZES) {
      const batch = Array.from({ length: size }, (_, i) => inputs[i % inputs.length]!);
      requests.push({ route: `v1 ${entry.name} :predict x${size}`, path: `/v1/models/${entry.name}:predict`, body: JSON.stringify({ instances: batch }), instances: size });
      const tensor = { name: card.input.tensorName, shape: [size, card.input.features.length], datatype: 'FP32', data: batch.flat() };
      requests.push({ route: `v2 ${entry.name} infer x${size}`, path: `/v2/models/${entry.name}/infer`, body: JSON.stringify({ inputs: [tensor] }), instances: size });
    }
  }
  return requests;
}

/** Starts the gateway bundle on a free port with a throw-away state folder; resolves with its URL. */
async function startGateway(manifestPath: string, stateDir: string) {
  const bundle = await buildLocalGateway();
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0' };
  // An API key in the environment would make every request a 403: the load runs against an open gateway.
  delete env.MLSHIP_API_KEY;
  const child = spawn(process.execPath, [bundle, '--manifest', manifestPath, '--state-dir', stateDir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = once(child, 'exit') as Promise<[number | null]>;
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
  return { url, child, exited, stderr: () => stderr };
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const connections = options.connections ?? 64;
  const durationSeconds = options.durationSeconds ?? 60;
  const manifest = loadManifest(options.manifestPath);
  const requests = loadRequests(manifest.models);
  const stateDir = mkdtempSync(join(tmpdir(), 'mlship-load-'));
  const gateway = await startGateway(options.manifestPath, stateDir);
  try {
    const perRoute = new Map<string, { requests: number; non2xx: number; statuses: Record<string, number> }>(requests.map((r) => [r.route, { requests: 0, non2xx: 0, statuses: {} }]));
    let instances = 0;
    const result = await autocannon({
      url: gateway.url,
      connections,
      duration: durationSeconds,
      // Each connection sends the list in order, round and round: every route, model and batch size in turn.
      requests: requests.map((r) => ({
        method: 'POST' as const,
        path: r.path,
        headers: { 'content-type': 'application/json' },
        body: r.body,
        onResponse: (status: number) => {
          const figures = perRoute.get(r.route)!;
          figures.requests++;
          if (status < 200 || status > 299) {
            figures.non2xx++;
            figures.statuses[String(status)] = (figures.statuses[String(status)] ?? 0) + 1;
          } else instances += r.instances;
        },
      })),
    });
    gateway.child.kill('SIGTERM');
    const [gatewayExitCode] = await gateway.exited;
    return {
      connections,
      durationSeconds,
      requests: result.requests.total,
      requestsPerSecond: result.requests.total / (result.duration || durationSeconds),
      instancesPerSecond: instances / (result.duration || durationSeconds),
      bytesPerSecond: result.throughput.average,
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      maxMs: result.latency.max,
      errors: result.errors,
      timeouts: result.timeouts,
      non2xx: result.non2xx,
      routes: [...perRoute].map(([route, f]) => ({ route, ...f })),
      gatewayExitCode,
    };
  } finally {
    if (gateway.child.exitCode === null) gateway.child.kill('SIGKILL');
    rmSync(stateDir, { recursive: true, force: true });
  }
}

/** The figures as a person reads them; the last line says whether the run passed. */
export function formatLoadResult(result: LoadResult): string {
  const lines = [
    `load: ${result.connections} connections for ${result.durationSeconds} s, ${result.routes.length} routes (${[...new Set(result.routes.map((r) => r.route.split(' ')[1]))].join(', ')}; v1 and v2; batches of ${LOAD_BATCH_SIZES.join(', ')})`,
    `  requests     ${result.requests}`,
    `  throughput   ${result.requestsPerSecond.toFixed(0)} req/s, ${result.instancesPerSecond.toFixed(0)} instances/s, ${(result.bytesPerSecond / 1e6).toFixed(1)} MB/s`,
    `  latency      p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, max ${result.maxMs} ms`,
    `  errors       ${result.errors} (timeouts ${result.timeouts})`,
    `  non-2xx      ${result.non2xx}`,
    '  per route:',
    ...result.routes.map((r) => `    ${r.route.padEnd(40)} ${String(r.requests).padStart(8)} requests${r.non2xx > 0 ? `, ${r.non2xx} non-2xx ${JSON.stringify(r.statuses)}` : ''}`),
    `  gateway      ${result.gatewayExitCode === 0 ? 'drained and exited 0 on SIGTERM' : `exited ${result.gatewayExitCode} on SIGTERM`}`,
  ];
  lines.push(loadPassed(result) ? 'ok: no errors, no non-2xx answers' : 'FAIL: errors or non-2xx answers under load');
  return lines.join('\n');
}

export function loadPassed(result: LoadResult): boolean {
  return result.errors === 0 && result.non2xx === 0 && result.requests > 0 && result.gatewayExitCode === 0;
}

function usage(message: string): never {
  process.stderr.write(`load: ${message}\nusage: npm run load -- [--connections N] [--duration SECONDS] [--manifest FILE] [--json]\n`);
  process.exit(2);
}

function positiveInteger(flag: string, raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max) usage(`--${flag} must be an integer from 1 to ${max}, received '${raw}'`);
  return value;
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({ options: { connections: { type: 'string' }, duration: { type: 'string' }, manifest: { type: 'string' }, json: { type: 'boolean' } }, strict: true }).values;
  } catch (error) {
    usage((error as Error).message);
  }
  const connections = positiveInteger('connections', args.connections, 64, 10_000);
  const durationSeconds = positiveInteger('duration', args.duration, 60, 3600);
  let manifestPath: string;
  try {
    manifestPath = resolveManifestPath(args.manifest);
  } catch (error) {
    if (error instanceof ManifestError) usage(error.message);
    throw error;
  }
  process.stderr.write(`load: ${connections} connections for ${durationSeconds} s against npm start's bundle (${availableParallelism()} cores, ${cpus()[0]?.model ?? 'unknown CPU'})...\n`);
  const result = await runLoad({ manifestPath, connections, durationSeconds });
  process.stdout.write(`${args.json ? JSON.stringify(result, null, 2) : formatLoadResult(result)}\n`);
  process.exitCode = loadPassed(result) ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    process.stderr.write(`load: ${error instanceof ManifestError ? error.message : `failed: ${(error as Error).message}`}\n`);
    process.exit(1);
  });
}
