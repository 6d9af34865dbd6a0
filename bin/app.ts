// The CDK app: one stack per manifest and stage. `npx cdk synth` / `npx cdk deploy`.
//   -c manifest=path/to/manifest.yaml   (default: models/manifest.yaml, .yml or .json)
//   -c stage=prod                       (default: the manifest's stage)
// A bad manifest prints every problem with its manifest path and exits 1, without a stack trace.
import { App } from 'aws-cdk-lib';
import { loadManifest, ManifestError, resolveManifestPath } from '../lambdas/core/manifest/load';
import { MlshipStack } from '../lib/stack/mlship-stack';

function contextString(app: App, key: string): string | undefined {
  const value: unknown = app.node.tryGetContext(key);
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new ManifestError(`context '${key}'`, [`must be a string, received ${JSON.stringify(value)}`]);
  return value;
}

function main(): void {
  const app = new App();
  const loaded = loadManifest(resolveManifestPath(contextString(app, 'manifest')));
  new MlshipStack(app, undefined, { loaded, stage: contextString(app, 'stage') });
  app.synth();
}

try {
  main();
} catch (error) {
  if (!(error instanceof ManifestError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exitCode = 1;
}
