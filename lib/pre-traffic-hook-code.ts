// The code of a model's pre-traffic hook function: at synth, the hook handler bundled by esbuild into a
// staged folder with the model version's model.json copied next to index.js (the hook reads its golden
// cases from there). A zip asset: no Docker. The AWS SDK clients are bundled too, so the hook runs the
// SDK version the tests ran rather than whichever one the runtime ships.
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { bundleEntry, PROJECT_ROOT } from './private/bundle';
import { placeFile, stagingDir } from './private/staging';

/** The pre-traffic hook's entry point (exports `handler`). */
export const DEFAULT_HOOK_ENTRY = join(PROJECT_ROOT, 'lambdas', 'pre-traffic-hook', 'index.ts');

export interface PreTrafficHookCodeProps {
  /** Folder of the model version being released; its model.json is copied next to the bundle. */
  readonly modelDir: string;
  /**
   * TypeScript entry of the hook, exporting `handler`.
   * @default - lambdas/pre-traffic-hook/index.ts
   */
  readonly hookEntry?: string;
}

/** Stages index.js, index.js.map, package.json and model.json in a new temp folder; returns the folder. */
export function stagePreTrafficHookCode(props: PreTrafficHookCodeProps): string {
  const card = join(props.modelDir, 'model.json');
  if (!existsSync(card)) throw new Error(`modelDir ${props.modelDir} has no model.json: the pre-traffic hook needs its golden cases`);
  const bundle = bundleEntry(resolve(props.hookEntry ?? DEFAULT_HOOK_ENTRY), {
    propName: 'hookEntry',
    purpose: 'the pre-traffic hook must exist to build its function',
  });
  const dir = stagingDir('mlship-hook-');
  writeFileSync(join(dir, 'package.json'), '{ "private": true, "type": "commonjs" }\n');
  writeFileSync(join(dir, 'index.js'), bundle.js);
  writeFileSync(join(dir, 'index.js.map'), bundle.map);
  placeFile(card, join(dir, 'model.json'));
  return dir;
}

/** The hook's code: `lambda.Code.fromAsset` over a freshly staged folder (its hash is of the contents). */
export function preTrafficHookCode(props: PreTrafficHookCodeProps): lambda.Code {
  return lambda.Code.fromAsset(stagePreTrafficHookCode(props));
}
