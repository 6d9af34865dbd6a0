// esbuild bundling of a handler entry at synth: CommonJS for the Lambda Node.js 22 runtime, minified,
// with a linked source map. Shared by the model image and the pre-traffic hook. Needs a locally installed
// esbuild (a devDependency), never Docker.
import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

/** The repository root (this file lives in lib/private/). */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Bundle {
  readonly js: Uint8Array;
  readonly map: Uint8Array;
}

export interface BundleOptions {
  /** Packages left out of the bundle (native code that ships beside it). */
  readonly external?: readonly string[];
  /** The prop that named the entry, for messages: `handlerEntry`. */
  readonly propName: string;
  /** Why the entry must exist, for messages: `the inference handler must exist to build a model image`. */
  readonly purpose: string;
}

// One bundle per entry and externals for the whole process: every model and architecture reuses it.
const bundles = new Map<string, Bundle>();

/** What bundleEntry gives inside withoutBundling: no code, only a line that says why. */
const NOT_BUNDLED: Bundle = {
  js: new TextEncoder().encode('// not bundled: synthesized only to read the template (withoutBundling)\n'),
  map: new TextEncoder().encode('{}\n'),
};
let bundling = true;

/**
 * Runs `fn` (a synth) with bundleEntry answering a placeholder instead of bundling: for in-process synths
 * that only read the template, as the local state machine runs do, where bundling every handler takes
 * seconds. Entries are still checked. Never for a synth that deploys: the staged code would be empty.
 */
export function withoutBundling<T>(fn: () => T): T {
  const before = bundling;
  bundling = false;
  try {
    return fn();
  } finally {
    bundling = before;
  }
}

/** Bundles `entry` (absolute or relative to the working directory) into index.js and index.js.map. */
export function bundleEntry(entry: string, options: BundleOptions): Bundle {
  const external = [...(options.external ?? [])].sort();
  const key = `${resolve(entry)}\0${external.join(',')}`;
  const cached = bundles.get(key);
  if (cached) return cached;
  if (!existsSync(entry)) {
    throw new Error(`${options.propName} ${relative(process.cwd(), entry) || entry} not found: ${options.purpose}`);
  }
  if (!bundling) return NOT_BUNDLED;
  let result: ReturnType<typeof buildSync>;
  try {
    result = buildSync({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      target: 'node22',
      format: 'cjs',
      external,
      minify: true,
      sourcemap: 'linked',
      sourcesContent: false,
      // Never written: it only anchors the relative source paths in the map, which keeps the bundle,
      // and so the asset hash, the same wherever the repository is checked out.
      outfile: join(PROJECT_ROOT, '.mlship-bundle', 'index.js'),
      absWorkingDir: PROJECT_ROOT,
      write: false,
      logLevel: 'silent',
    });
  } catch (error) {
    const errors = (error as { errors?: { text: string; location?: { file: string; line: number } | null }[] }).errors ?? [];
    const lines = errors.map((e) => (e.location ? `${e.location.file}:${e.location.line}: ${e.text}` : e.text));
    throw new Error(`bundling ${relative(process.cwd(), entry)} failed:\n${lines.join('\n') || (error as Error).message}`);
  }
  const outputs = result.outputFiles ?? [];
  const js = outputs.find((f) => f.path.endsWith('index.js'));
  const map = outputs.find((f) => f.path.endsWith('index.js.map'));
  if (!js || !map) throw new Error(`bundling ${entry} produced no index.js and index.js.map`);
  const bundle = { js: js.contents, map: map.contents };
  bundles.set(key, bundle);
  return bundle;
}
