// The code of a SageMaker model's proxy function: at synth, the proxy handler bundled by esbuild into a
// staged folder with the model version's model.json copied next to index.js (the proxy decodes requests
// and answers metadata from it). A zip asset: no Docker. The AWS SDK client is bundled too, so the proxy
// runs the SDK version the tests ran rather than whichever one the runtime ships.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { PROJECT_ROOT } from '../private/bundle';
import { stageCardBundle } from '../private/card-bundle';
import { placeFile } from '../private/staging';

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

/**
 * Stages index.js, index.js.map, package.json and model.json in a new temp folder, and the background sample
 * the card names (background.json, for :explain) beside model.json; returns the folder.
 */
export function stageSagemakerProxyCode(props: SagemakerProxyCodeProps): string {
  const dir = stageCardBundle({
    entry: props.proxyEntry ?? DEFAULT_PROXY_ENTRY,
    modelDir: props.modelDir,
    folderPrefix: 'mlship-proxy-',
    propName: 'proxyEntry',
    entryPurpose: 'the SageMaker proxy must exist to build its function',
    cardPurpose: 'the SageMaker proxy decodes requests with it',
  });
  const card = JSON.parse(readFileSync(join(props.modelDir, 'model.json'), 'utf8')) as { explanation?: { background?: { file?: unknown } } };
  const background = card.explanation?.background?.file;
  if (typeof background === 'string') {
    const source = join(props.modelDir, background);
    if (!existsSync(source)) throw new Error(`modelDir ${props.modelDir} has no ${background}, which its model.json names in explanation.background`);
    placeFile(source, join(dir, background));
  }
  return dir;
}

/** The proxy's code: `lambda.Code.fromAsset` over a freshly staged folder (its hash is of the contents). */
export function sagemakerProxyCode(props: SagemakerProxyCodeProps): lambda.Code {
  return lambda.Code.fromAsset(stageSagemakerProxyCode(props));
}
