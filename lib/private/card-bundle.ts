// The code of a small function that reads the model card it is deployed with: its handler bundled by
// esbuild into a staged folder, with the model version's model.json copied next to index.js. A zip
// asset: no Docker. The AWS SDK is bundled too, so the function runs the SDK version the tests ran.
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { bundleEntry } from './bundle';
import { placeFile, stagingDir } from './staging';

export interface CardBundleOptions {
  /** TypeScript entry exporting `handler`. */
  readonly entry: string;
  /** Folder of the model version; its model.json is copied next to the bundle. */
  readonly modelDir: string;
  /** Prefix of the staged temp folder. */
  readonly folderPrefix: string;
  /** For error messages: the prop that names the entry, and why the entry and the card are needed. */
  readonly propName: string;
  readonly entryPurpose: string;
  readonly cardPurpose: string;
}

/** Stages index.js, index.js.map, package.json and model.json in a new temp folder; returns the folder. */
export function stageCardBundle(options: CardBundleOptions): string {
  const card = join(options.modelDir, 'model.json');
  if (!existsSync(card)) throw new Error(`modelDir ${options.modelDir} has no model.json: ${options.cardPurpose}`);
  const bundle = bundleEntry(resolve(options.entry), { propName: options.propName, purpose: options.entryPurpose });
  const dir = stagingDir(options.folderPrefix);
  writeFileSync(join(dir, 'package.json'), '{ "private": true, "type": "commonjs" }\n');
  writeFileSync(join(dir, 'index.js'), bundle.js);
  writeFileSync(join(dir, 'index.js.map'), bundle.map);
  placeFile(card, join(dir, 'model.json'));
  return dir;
}
