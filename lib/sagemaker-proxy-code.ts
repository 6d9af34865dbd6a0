// The code of a SageMaker model's proxy function: at synth, the proxy handler bundled by esbuild into a
// staged folder with the model version's model.json copied next to index.js (the proxy decodes requests
// and answers metadata from it). A zip asset: no Docker. The AWS SDK client is bundled too, so the proxy
// runs the SDK version the tests ran rather than whichever one the runtime ships.
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { bundleEntry, PROJECT_ROOT } from './private/bundle';
import { placeFile, stagingDir } from './private/staging';

/** The proxy's entry point (exports `handler`). */
export const DEFAULT_PROXY_ENTRY = join(PROJECT_ROOT, 'lambdas', 'sagemaker-proxy', 'index.ts');

export interface SagemakerProxyCodeProps {
  /** Folder of the model version served; its model.json is copied next to the bundle. */
  readonly modelDir: string;
  /**
   * TypeScript entry of the proxy, exporting `handler`.
   * @default - lambdas/sagemaker-proxy/index.ts
   */
  readonly proxyEntry?: string;
}

/** Stages index.js, index.js.map, package.json and model.json in a new temp folder; returns the folder. */
export function stageSagemakerProxyCode(props: SagemakerProxyCodeProps): string {
  const card = join(props.modelDir, 'model.json');
  if (!existsSync(card)) throw new Error(`modelDir ${props.modelDir} has no model.json: the SageMaker proxy decodes requests with it`);
  const bundle = bundleEntry(resolve(props.proxyEntry ?? DEFAULT_PROXY_ENTRY), {
    propName: 'proxyEntry',
    purpose: 'the SageMaker proxy must exist to build its function',
  });
  const dir = stagingDir('mlship-proxy-');
  writeFileSync(join(dir, 'package.json'), '{ "private": true, "type": "commonjs" }\n');
  writeFileSync(join(dir, 'index.js'), bundle.js);
  writeFileSync(join(dir, 'index.js.map'), bundle.map);
  placeFile(card, join(dir, 'model.json'));
  return dir;
}

/** The proxy's code: `lambda.Code.fromAsset` over a freshly staged folder (its hash is of the contents). */
export function sagemakerProxyCode(props: SagemakerProxyCodeProps): lambda.Code {
  return lambda.Code.fromAsset(stageSagemakerProxyCode(props));
}
