// `npm run fuzz -- --requests N --seed S`: generated malformed and hostile requests against the local
// gateway as `npm start` runs it (the esbuild bundle, a child process with --expose-gc), then a summary:
// requests by kind, status codes, failures with their seed and bytes, memory after warm-up and after the run.
// Exit 1 on any failure (a 5xx, an answer that is not the JSON error shape or a valid success, no answer,
// a connection reset under the client (EPIPE, ECONNRESET), a failed health check, a crash) or when the heap
// does not come back to its level after warm-up.
//   --requests N     requests to send (default 10000)
//   --seed S         the generator's seed (default: from the clock, printed)
//   --only I         send request I of the seed alone and print it with its answer (to replay a failure)
//   --concurrency C  connections at once (default 8)
//   --api-key        run the gateway with an API key (MLSHIP_API_KEY); most requests send it
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildLocalGateway } from './build-local';
import { generateRequest } from './fuzz/generate';
import { checkExchange, describeRequest, exchange, fuzz, fuzzContext, startTarget, type FuzzSummary, type MemoryFigures } from './fuzz/run';

/** Warm-up requests before the baseline is measured: every code path and the sessions' arenas used once. */
export const WARM_UP_REQUESTS = 1000;
/**
 * The heap may end this much above its level after warm-up. What the gateway keeps on purpose grows with
 * traffic up to a bound: the metrics store's cells (per model, version or none, and route, per alarm period:
 * counts and two reservoirs of up to 4,096 latency samples, 64 KB when full), ~20 cells for the shipped
 * manifest, ~1.3 MB per 5-minute period, at most two periods in a run of this length. Measured: +0.5 MiB
 * after 10,000 requests, +1.8 MiB after 40,000. A leak of the requests themselves would be far above 4 MiB.
 */
export const HEAP_TOLERANCE_BYTES = 4 * 1024 * 1024;
/** The tolerance of a run of `ms`: 1.5 MiB more for every 5-minute period past the first two it spans. */
export function heapTolerance(ms: number): number {
  return HEAP_TOLERANCE_BYTES + Math.max(0, Math.ceil(ms / 300_000) - 1) * 1.5 * 1024 * 1024;
}
/**
 * RSS is checked loosely: after a GC, freed memory stays with the process (glibc's arenas, onnxruntime's
 * arena sized by the largest batch seen), so it settles 10-25 MB above its warm-up level; a leak of the
 * requests themselves (10,000 bodies of ~10 KB on average, some of 1 MB) would pass 64 MB.
 */
export const RSS_TOLERANCE_BYTES = 64 * 1024 * 1024;

const MiB = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

export function formatSummary(summary: FuzzSummary, before: MemoryFigures, after: MemoryFigures): string {
  const lines = [
    `fuzz: ${summary.requests} requests, seed ${summary.seed}, ${(summary.ms / 1000).toFixed(1)} s (${Math.round(summary.requests / (summary.ms / 1000))} req/s)`,
    `  by kind: ${Object.entries(summary.byKind)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}`,
    `  answers: ${Object.entries(summary.statuses)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([s, n]) => `${s}: ${n}`)
      .join(', ')}`,
    `  health checks: ${summary.healthChecks}, failed: ${summary.unhealthy}`,
    `  memory after warm-up: heap ${MiB(before.heapUsed)}, rss ${MiB(before.rss)}, external ${MiB(before.external)}`,
    `  memory after the run: heap ${MiB(after.heapUsed)} (${after.heapUsed >= before.heapUsed ? '+' : ''}${MiB(after.heapUsed - before.heapUsed)}), rss ${MiB(after.rss)} (${after.rss >= before.rss ? '+' : ''}${MiB(after.rss - before.rss)}), external ${MiB(after.external)}`,
    `  failures: ${summary.failures.length}`,
  ];
  for (const f of summary.failures) lines.push(`  FAIL ${f.problem}\n    ${describeRequest(f.seed, f.request).replace(/\n/g, '\n    ')}\n    answer: ${f.answer}`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      requests: { type: 'string' },
      seed: { type: 'string' },
      only: { type: 'string' },
      concurrency: { type: 'string' },
      'api-key': { type: 'boolean' },
    },
    strict: true,
  });
  const requests = Number(values.requests ?? 10_000);
  const seed = Number(values.seed ?? Date.now() % 2 ** 31);
  const concurrency = Number(values.concurrency ?? 8);
  if (!Number.isInteger(requests) || requests < 1) throw new Error(`--requests must be a positive integer, received '${values.requests}'`);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed must be a non-negative integer, received '${values.seed}'`);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) throw new Error(`--concurrency must be 1 to 256, received '${values.concurrency}'`);
  const apiKey = values['api-key'] ? `fuzz-key-${seed}-0123456789abcdef` : undefined;
  const ctx = fuzzContext(undefined, apiKey);

  const bundle = await buildLocalGateway();
  const stateDir = mkdtempSync(join(tmpdir(), 'mlship-fuzz-'));
  const target = await startTarget(bundle, stateDir, apiKey ? { MLSHIP_API_KEY: apiKey } : {});
  let failed = false;
  try {
    if (values.only !== undefined) {
      const request = generateRequest(seed, Number(values.only), ctx);
      const result = await exchange(target.port, request, 3000);
      const answers = result.answers ?? (result.answer ? [result.answer] : []);
      const shown = answers.map((a, i) => `answer ${i + 1}: ${a.status} ${JSON.stringify(a.headers)}\n${a.body.subarray(0, 2000).toString('utf8')}`).join('\n');
      process.stdout.write(`${describeRequest(seed, request)}\n${answers.length > 0 ? shown : `no answer (${result.none})`}\n`);
      const problem = checkExchange(request, result);
      process.stdout.write(problem ? `FAIL ${problem}\n` : 'ok\n');
      failed = problem !== undefined;
      return;
    }
    process.stdout.write(`fuzz: seed ${seed}, ${requests} requests, ${concurrency} connections, gateway pid ${target.child.pid} on 127.0.0.1:${target.port}\n`);
    const warm = await fuzz(target, ctx, { seed: seed ^ 0x5bd1e995, requests: WARM_UP_REQUESTS, concurrency });
    const before = await target.memory();
    const summary = await fuzz(target, ctx, { seed, requests, concurrency });
    const after = await target.memory();
    process.stdout.write(`${formatSummary(summary, before, after)}\n`);
    const errors = Object.entries(target.errors());
    process.stdout.write(`  gateway ERROR log lines: ${errors.length === 0 ? 'none' : errors.map(([m, n]) => `'${m}' ${n}`).join(', ')}\n`);
    const grew = after.heapUsed - before.heapUsed;
    if (warm.failures.length > 0) process.stdout.write(`  (warm-up, seed ${warm.seed}: ${warm.failures.length} failures)\n${formatSummary(warm, before, before).split('\n').filter((l) => l.includes('FAIL') || l.startsWith('    ')).join('\n')}\n`);
    const tolerance = heapTolerance(summary.ms);
    if (grew > tolerance) process.stdout.write(`  FAIL the heap grew by ${MiB(grew)}, more than ${MiB(tolerance)}\n`);
    const rssGrew = after.rss - before.rss;
    if (rssGrew > RSS_TOLERANCE_BYTES) process.stdout.write(`  FAIL the RSS grew by ${MiB(rssGrew)}, more than ${MiB(RSS_TOLERANCE_BYTES)}\n`);
    if (target.child.exitCode !== null) process.stdout.write(`  FAIL the gateway exited with ${target.child.exitCode}:\n${target.log()}\n`);
    failed = summary.failures.length > 0 || warm.failures.length > 0 || summary.unhealthy > 0 || grew > tolerance || rssGrew > RSS_TOLERANCE_BYTES || target.child.exitCode !== null;
  } finally {
    const code = await target.stop();
    if (code !== 0) {
      process.stdout.write(`  FAIL the gateway stopped with exit code ${code}\n${target.log().slice(-3000)}\n`);
      failed = true;
    }
    rmSync(stateDir, { recursive: true, force: true });
  }
  process.exitCode = failed ? 1 : 0;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/'))) {
  main().catch((error: unknown) => {
    process.stderr.write(`fuzz: ${(error as Error).message}\n`);
    process.exit(2);
  });
}
