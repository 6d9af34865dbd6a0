// The code of a model's pre-traffic hook function: at synth, the hook handler bundled by esbuild into a
// staged folder with the model version's model.json copied next to index.js (the hook reads its golden
// cases from there). A zip asset: no Docker. The AWS SDK clients are bundled too, so the hook runs the
// SDK version the tests ran rather than whichever one the runtime ships.
import { join } from 'node:path';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { PROJECT_ROOT } from '../private/bundle';
import { stageCardBundle } from '../private/card-bundle';

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
  return stageCardBundle({
    entry: props.hookEntry ?? DEFAULT_HOOK_ENTRY,
    modelDir: props.modelDir,
    folderPrefix: 'mlship-hook-',
    propName: 'hookEntry',
    entryPurpose: 'the pre-traffic hook must exist to build its function',
    cardPurpose: 'the pre-traffic hook needs its golden cases',
  });
}

/** The hook's code: `lambda.Code.fromAsset` over a freshly staged folder (its hash is of the contents). */
export function preTrafficHookCode(props: PreTrafficHookCodeProps): lambda.Code {
  return lambda.Code.fromAsset(stagePreTrafficHookCode(props));
}
