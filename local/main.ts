// `npm start`: serves every model in the manifest on http://127.0.0.1:8080 (PORT overrides it).
// Ctrl-C or SIGTERM drains in-flight requests, then exits.
import { rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ModelLoadError } from '../lambdas/core/models/inference-session';
import { loadManifest, ManifestError, resolveManifestPath } from '../lambdas/core/manifest/load';
import { ApiKeyError, loadApiKey, type LoadedApiKey } from './security/api-key';
import { LocalGateway } from './serving/gateway';
import { ProcessFaultPolicy } from './serving/process-faults';
import { DEFAULT_MONITOR_INTERVAL_SECONDS } from './monitoring/local-monitoring';
import { ReleaseError } from './release/manager';
import { StateError } from './release/state';

function usageError(message: string): never {
  process.stderr.write(`mlship: ${message}\nusage: npm start -- [--manifest FILE] [--port N] [--host ADDRESS] [--throttle] [--state-dir DIR] [--time-scale X] [--admin-port N] [--monitor-interval SECONDS] [--state-max-mb N] [--alert-webhook URL] [--api-key-file FILE]\n  API key: --api-key-file FILE (the key is the file's content) or MLSHIP_API_KEY; there is no --api-key flag,\n  since a process's arguments show in ps to every user of the machine, its environment and a 0600 file do not\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  // Installed first: a stray rejection while models load is logged and counted like one while serving.
  const serving: { gateway?: LocalGateway } = {};
  const faults = new ProcessFaultPolicy({ shutdown: async () => serving.gateway?.close() }).install();
  let args;
  try {
    args = parseArgs({
      options: {
        manifest: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        throttle: { type: 'boolean' },
        'state-dir': { type: 'string' },
        'time-scale': { type: 'string' },
        'admin-port': { type: 'string' },
        'monitor-interval': { type: 'string' },
        'state-max-mb': { type: 'string' },
        'alert-webhook': { type: 'string' },
        'api-key-file': { type: 'string' },
      },
      strict: true,
    }).values;
  } catch (error) {
    usageError((error as Error).message);
  }
  const portText = args.port ?? process.env.PORT ?? '8080';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) usageError(`port must be an integer from 0 to 65535, received '${portText}'`);

  const timeScale = Number(args['time-scale'] ?? '1');
  if (!(timeScale > 0 && timeScale <= 1)) usageError(`time-scale must be a number above 0 and at most 1, received '${args['time-scale']}'`);
  const adminPort = args['admin-port'] === undefined ? undefined : Number(args['admin-port']);
  if (adminPort !== undefined && !(Number.isInteger(adminPort) && adminPort >= 0 && adminPort <= 65535)) usageError(`admin-port must be an integer from 0 to 65535, received '${args['admin-port']}'`);

  const monitorInterval = Number(args['monitor-interval'] ?? DEFAULT_MONITOR_INTERVAL_SECONDS);
  if (!(monitorInterval >= 1 && monitorInterval <= 86_400)) usageError(`monitor-interval must be a number of seconds from 1 to 86400, received '${args['monitor-interval']}'`);
  const stateMaxMb = args['state-max-mb'] === undefined ? undefined : Number(args['state-max-mb']);
  if (stateMaxMb !== undefined && !(Number.isInteger(stateMaxMb) && stateMaxMb >= 1 && stateMaxMb <= 1_048_576)) usageError(`state-max-mb must be a whole number of MiB from 1 to 1048576, received '${args['state-max-mb']}'`);
  const alertWebhook = args['alert-webhook'] ?? (process.env.MLSHIP_ALERT_WEBHOOK || undefined);
  if (alertWebhook !== undefined && !/^https?:\/\/[^\s]+$/.test(alertWebhook)) usageError(`alert-webhook must be an http or https URL (from ${args['alert-webhook'] !== undefined ? '--alert-webhook' : 'MLSHIP_ALERT_WEBHOOK'})`);

  let apiKey: LoadedApiKey | undefined;
  try {
    apiKey = loadApiKey({ ...(args['api-key-file'] !== undefined ? { file: args['api-key-file'] } : {}) });
  } catch (error) {
    if (error instanceof ApiKeyError) usageError(error.message);
    throw error;
  }
  // Read once: the scorer workers and anything else this process starts need not inherit it.
  delete process.env.MLSHIP_API_KEY;
  if (apiKey?.warning) process.stderr.write(`mlship: warning: ${apiKey.warning}\n`);

  const manifest = loadManifest(resolveManifestPath(args.manifest));
  const stateDir = resolve(args['state-dir'] ?? '.mlship');
  const running = await LocalGateway.start({ manifest, port, host: args.host ?? '127.0.0.1', throttle: args.throttle ?? false, stateDir, timeScale, adminPort, monitorIntervalMs: monitorInterval * 1000, ...(stateMaxMb !== undefined ? { stateMaxBytes: stateMaxMb * 1024 * 1024 } : {}), ...(alertWebhook ? { alertWebhook } : {}), ...(apiKey ? { apiKey: apiKey.key } : {}), processFaults: () => faults.counts });
  serving.gateway = running;
  // Where `npx mlship canary ...` finds this gateway's admin routes.
  const pointer = join(stateDir, 'gateway.json');
  writeFileSync(pointer, `${JSON.stringify({ url: running.url, adminUrl: running.adminUrl, pid: process.pid }, null, 2)}\n`);
  printBanner(running, apiKey?.from, `monitoring: captures in ${join(stateDir, 'capture')}, drift monitor every ${monitorInterval} s, alerts on stderr, in ${join(stateDir, 'alerts.jsonl')}${alertWebhook ? ` and POSTed to ${new URL(alertWebhook).origin}` : ''}\nstate folder: ${stateDir}, capped at ${stateMaxMb ?? manifest.manifest.monitoring.localStateMaxMb} MiB (oldest captures dropped first)`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      process.stderr.write('second signal: exiting now\n');
      process.exit(130);
    }
    stopping = true;
    process.stderr.write(`\n${signal}: draining in-flight requests...\n`);
    running.close().then(
      () => {
        rmSync(pointer, { force: true });
        process.stderr.write('stopped cleanly\n');
        process.exit(0);
      },
      (error: unknown) => {
        process.stderr.write(`error while stopping: ${(error as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

function printBanner(gateway: LocalGateway, keyFrom: string | undefined, monitoring: string): void {
  const { url } = gateway;
  const count = gateway.modelNames.length;
  const lines = [`mlship: serving ${count} model${count === 1 ? '' : 's'} on ${url}`, ''];
  // Never the key itself: only that one is needed and where it was read from.
  if (keyFrom) lines.splice(1, 0, `  API key required: send header x-api-key (key from ${keyFrom}); /v2/health/live and /v2/health/ready stay open`);
  const keyHeader = keyFrom === undefined ? '' : keyFrom === 'MLSHIP_API_KEY' ? ` -H "x-api-key: $MLSHIP_API_KEY"` : ` -H "x-api-key: $(cat '${keyFrom}')"`;
  for (const name of gateway.modelNames) {
    lines.push(`  ${name}`, `    POST ${url}/v2/models/${name}/infer`, `    POST ${url}/v1/models/${name}:predict`, `    POST ${url}/v1/models/${name}:explain`, `    GET  ${url}/v2/models/${name}`);
  }
  // A runnable example: the model with the fewest features, sending its first golden case.
  const card = [...gateway.cards].sort((a, b) => a.input.features.length - b.input.features.length)[0]!;
  const example = card.name;
  const instance = card.golden[0]?.input ?? card.input.features.map(() => 0);
  lines.push(
    '',
    `  health: GET ${url}/v2/health/ready`,
    keyFrom ? `  status: ${gateway.adminUrl}/   (on the admin port, no key needed; also ${url}/ with the key)` : `  status: ${url}/   (models, traffic split, latency, alarms, drift, recent alerts)`,
    '',
    'try:',
    `  curl -s${keyHeader} ${url}/v2/models/${example}   # metadata: feature names and labels`,
    `  curl -s${keyHeader} -H 'content-type: application/json' -d '{"instances": [${JSON.stringify(instance)}]}' ${url}/v1/models/${example}:predict`,
    '',
    `releases: ${gateway.releaseManager
      .statuses()
      .map((r) => `${r.model} ${r.traffic.map((t) => `v${t.version} ${t.weight}%`).join(' + ')}`)
      .join('; ')}  (admin on ${gateway.adminUrl}: npx mlship canary status)`,
    monitoring,
    '',
    'Ctrl-C stops (in-flight requests finish first).',
    '',
  );
  process.stdout.write(lines.join('\n'));
}

main().catch((error: unknown) => {
  if (error instanceof ManifestError || error instanceof ReleaseError || error instanceof StateError || error instanceof ModelLoadError) {
    process.stderr.write(`mlship: ${error.message}\n`);
  } else if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    process.stderr.write(`mlship: port already in use: ${(error as Error).message}; set PORT to another port\n`);
  } else {
    process.stderr.write(`mlship: failed to start: ${(error as Error).message}\n`);
  }
  process.exit(1);
});
