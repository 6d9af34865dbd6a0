// The container image of one model's function. At synth this stages a Docker build context in a temp
// folder: the inference handler bundled by esbuild, onnxruntime-node copied from node_modules (only the
// native binary for the function's architecture), and the model files. `cdk synth` only hashes the
// folder; `cdk deploy` builds and pushes the image. The build needs no network beyond the base image and
// runs exactly the onnxruntime version the tests ran.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { bundleEntry, PROJECT_ROOT, type Bundle } from '../private/bundle';
import { placeFile, stagingDir } from '../private/staging';

export { PROJECT_ROOT };

/** The inference handler's entry point, bundled into every model image. */
export const DEFAULT_HANDLER_ENTRY = join(PROJECT_ROOT, 'lambdas', 'inference', 'index.ts');

/** AWS Lambda's Node.js 22 base image (multi-architecture; the build platform picks arm64 or x86_64). */
export const BASE_IMAGE = 'public.ecr.aws/lambda/nodejs:22';

/** Where the model files sit in the image; the handler reads MODEL_DIR. */
export const IMAGE_MODEL_DIR = '/opt/ml/model';

/** The files of a model folder that go into the image; nothing else in the folder does. */
export const MODEL_FILES = ['model.onnx', 'model.json'] as const;

/** Files a model folder has only when its card names them; copied beside MODEL_FILES when named. */
export const OPTIONAL_MODEL_FILES = ['background.json'] as const;

/** The optional files the card in `modelDir` names (explanation.background.file); a named file must exist. */
export function namedOptionalFiles(modelDir: string): string[] {
  const card = JSON.parse(readFileSync(join(modelDir, 'model.json'), 'utf8')) as { explanation?: { background?: { file?: unknown } } };
  const named = card.explanation?.background?.file;
  if (named === undefined) return [];
  const file = OPTIONAL_MODEL_FILES.find((f) => f === named);
  if (!file) throw new Error(`modelDir ${modelDir}: model.json's explanation.background.file is ${JSON.stringify(named)}, expected ${OPTIONAL_MODEL_FILES.join(' or ')}`);
  if (!existsSync(join(modelDir, file))) throw new Error(`modelDir ${modelDir} has no ${file}, which its model.json names in explanation.background`);
  return [file];
}

export interface ModelImageProps {
  /** Folder holding the model's model.onnx and model.json; both are copied to /opt/ml/model, with background.json when the card names it. */
  readonly modelDir: string;
  /**
   * Architecture of the function; picks the image platform and the onnxruntime binary.
   * @default lambda.Architecture.ARM_64
   */
  readonly architecture?: lambda.Architecture;
  /**
   * TypeScript entry of the handler, exporting `handler`.
   * @default - lambdas/inference/index.ts
   */
  readonly handlerEntry?: string;
}

export interface StagedImageContext {
  /** The staged Docker build context (a temp folder, removed when the process exits). */
  readonly dir: string;
  readonly platform: Platform;
  /** Total size of the staged files, in bytes. */
  readonly bytes: number;
}

const DOCKERFILE = `# Generated at synth by mlship (lib/serving/model-image.ts); built by \`cdk deploy\`. Do not edit.
FROM ${BASE_IMAGE}
# Largest and least changing first, so a new model or handler rebuilds only the layers after it.
COPY node_modules/ \${LAMBDA_TASK_ROOT}/node_modules/
COPY model/ ${IMAGE_MODEL_DIR}/
COPY package.json index.js index.js.map \${LAMBDA_TASK_ROOT}/
CMD ["index.handler"]
`;

/** Bundles the inference handler with esbuild: onnxruntime-node stays external (it ships in the image). */
export function bundleHandler(entry: string): Bundle {
  return bundleEntry(entry, { external: ['onnxruntime-node'], propName: 'handlerEntry', purpose: 'the inference handler must exist to build a model image' });
}

/** The installed folder of a package, found the way Node would resolve it from `fromDir`. */
function packageDir(name: string, fromDir: string): string {
  const paths = createRequire(join(fromDir, 'package.json')).resolve.paths(name) ?? [];
  const found = paths.map((p) => join(p, name)).find((dir) => existsSync(join(dir, 'package.json')));
  if (!found) throw new Error(`package ${name} is not installed (looked from ${fromDir}); run npm ci`);
  return found;
}

/** Places the files under `dir` (relative to `from`) that `keep` accepts; returns the bytes placed. */
function placeTree(from: string, to: string, keep: (relativePath: string) => boolean): number {
  let bytes = 0;
  const walk = (rel: string): void => {
    for (const entry of readdirSync(join(from, rel), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile() && keep(child)) bytes += placeFile(join(from, child), join(to, child));
    }
  };
  walk('');
  return bytes;
}

/** onnxruntime's folder name for a Lambda architecture. */
export function ortArch(architecture: lambda.Architecture): 'arm64' | 'x64' {
  if (architecture.name === lambda.Architecture.ARM_64.name) return 'arm64';
  if (architecture.name === lambda.Architecture.X86_64.name) return 'x64';
  throw new Error(`architecture must be arm64 or x86_64, received '${architecture.name}'`);
}

/** Copies onnxruntime-node (JS, and the native binary for one architecture) and onnxruntime-common. */
export function stageOnnxRuntime(nodeModules: string, arch: 'arm64' | 'x64'): number {
  const ortNode = packageDir('onnxruntime-node', PROJECT_ROOT);
  const ortCommon = packageDir('onnxruntime-common', ortNode);
  const binary = `bin/napi-v6/linux/${arch}`;
  if (!existsSync(join(ortNode, binary, 'onnxruntime_binding.node'))) {
    throw new Error(`onnxruntime-node has no linux ${arch} binary at ${join(ortNode, binary)}; reinstall it with npm ci`);
  }
  const isJs = (p: string): boolean => p.endsWith('.js');
  let bytes = placeTree(ortNode, join(nodeModules, 'onnxruntime-node'), (p) => p === 'package.json' || ((p.startsWith('dist/') || p.startsWith('lib/')) && isJs(p)) || p.startsWith(`${binary}/`));
  bytes += placeTree(ortCommon, join(nodeModules, 'onnxruntime-common'), (p) => p === 'package.json' || p === 'dist/cjs/package.json' || (p.startsWith('dist/cjs/') && isJs(p)));
  return bytes;
}

/** Stages the Docker build context of one model image in a new temp folder. */
export function stageModelImageContext(props: ModelImageProps): StagedImageContext {
  const architecture = props.architecture ?? lambda.Architecture.ARM_64;
  const arch = ortArch(architecture);
  const missing = MODEL_FILES.filter((f) => !existsSync(join(props.modelDir, f)));
  if (missing.length > 0) throw new Error(`modelDir ${props.modelDir} has no ${missing.join(' or ')}`);
  const optional = namedOptionalFiles(props.modelDir);
  const bundle = bundleHandler(resolve(props.handlerEntry ?? DEFAULT_HANDLER_ENTRY));

  const dir = stagingDir('mlship-image-');
  writeFileSync(join(dir, 'Dockerfile'), DOCKERFILE);
  // No package.json in /var/task would also mean CommonJS; say it, so nobody has to know that.
  const packageJson = '{ "private": true, "type": "commonjs" }\n';
  writeFileSync(join(dir, 'package.json'), packageJson);
  writeFileSync(join(dir, 'index.js'), bundle.js);
  writeFileSync(join(dir, 'index.js.map'), bundle.map);
  let bytes = DOCKERFILE.length + packageJson.length + bundle.js.byteLength + bundle.map.byteLength;
  bytes += stageOnnxRuntime(join(dir, 'node_modules'), arch);
  for (const file of [...MODEL_FILES, ...optional]) bytes += placeFile(join(props.modelDir, file), join(dir, 'model', file));
  return { dir, platform: arch === 'arm64' ? Platform.LINUX_ARM64 : Platform.LINUX_AMD64, bytes };
}

/** The image code of a model's function: `lambda.DockerImageCode` over a freshly staged context. */
export function modelImageCode(props: ModelImageProps): lambda.DockerImageCode {
  const { dir, platform } = stageModelImageContext(props);
  return lambda.DockerImageCode.fromImageAsset(dir, { platform });
}
