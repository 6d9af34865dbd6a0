// `npm start`: serves every model in the manifest on http://127.0.0.1:8080 (PORT overrides it).
// Ctrl-C or SIGTERM drains in-flight requests, then exits.
import { parseArgs } from 'node:util';
import { loadManifest, ManifestError, resolveManifestPath } from '../lib/manifest/load';
import { LocalGateway } from './gateway';

function usageError(message: string): never {
  process.stderr.write(`mlship: ${message}\nusage: npm start -- [--manifest FILE] [--port N] [--host ADDRESS] [--throttle]\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({
      options: { manifest: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, throttle: { type: 'boolean' } },
      strict: true,
    }).values;
  } catch (error) {
    usageError((error as Error).message);
  }
  const portText = args.port ?? process.env.PORT ?? '8080';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) usageError(`port must be an integer from 0 to 65535, received '${portText}'`);

  const manifest = loadManifest(resolveManifestPath(args.manifest));
  const gateway = await LocalGateway.start({ manifest, port, host: args.host ?? '127.0.0.1', throttle: args.throttle ?? false });
  printBanner(gateway);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      process.stderr.write('second signal: exiting now\n');
      process.exit(130);
    }
    stopping = true;
    process.stderr.write(`\n${signal}: draining in-flight requests...\n`);
    gateway.close().then(
      () => {
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

function printBanner(gateway: LocalGateway): void {
  const { url } = gateway;
  const lines = [`mlship: serving ${gateway.modelNames.length} models on ${url}`, ''];
  for (const name of gateway.modelNames) {
    lines.push(`  ${name}`, `    POST ${url}/v2/models/${name}/infer`, `    POST ${url}/v1/models/${name}:predict`, `    GET  ${url}/v2/models/${name}`);
  }
  // A runnable example: the model with the fewest features, sending its first golden case.
  const card = [...gateway.cards].sort((a, b) => a.input.features.length - b.input.features.length)[0]!;
  const example = card.name;
  const instance = card.golden[0]?.input ?? card.input.features.map(() => 0);
  lines.push(
    '',
    `  health: GET ${url}/v2/health/ready`,
    '',
    'try:',
    `  curl -s ${url}/v2/models/${example}   # metadata: feature names and labels`,
    `  curl -s -H 'content-type: application/json' -d '{"instances": [${JSON.stringify(instance)}]}' ${url}/v1/models/${example}:predict`,
    '',
    'Ctrl-C stops (in-flight requests finish first).',
    '',
  );
  process.stdout.write(lines.join('\n'));
}

main().catch((error: unknown) => {
  if (error instanceof ManifestError) {
    process.stderr.write(`mlship: ${error.message}\n`);
  } else if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    process.stderr.write(`mlship: port already in use: ${(error as Error).message}; set PORT to another port\n`);
  } else {
    process.stderr.write(`mlship: failed to start: ${(error as Error).message}\n`);
  }
  process.exit(1);
});
