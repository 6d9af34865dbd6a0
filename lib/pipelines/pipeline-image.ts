// The container image of the stage's pipeline functions (batch scoring, retraining): onnxruntime-node for
// the function's architecture, every model of the manifest at /opt/ml/models/<name>/, and one esbuild
// bundle per handler at /var/task/<handler>/index.js. One image serves several functions, each naming its
// handler in the image command (`<handler>/index.handler`). Staged at synth like a model image; built by
// `cdk deploy`.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { BASE_IMAGE, bundleHandler, MODEL_FILES, namedOptionalFiles, ortArch, stageOnnxRuntime } from '../serving/model-image';
import { placeFile, stagingDir } from '../private/staging';

/** Where each model's files sit in a pipeline image: <IMAGE_MODELS_DIR>/<name>/model.onnx and model.json. */
export const IMAGE_MODELS_DIR = '/opt/ml/models';

const HANDLER_NAME = /^[a-z][a-z0-9-]{0,40}$/;

export interface PipelineImageProps {
  /** Handler name (a folder in the image, e.g. 'batch-score') -> its TypeScript entry exporting `handler`. */
  readonly handlers: Readonly<Record<string, string>>;
  /** The models baked into the image: name -> folder holding model.onnx and model.json. */
  readonly models: Readonly<Record<string, string>>;
  /**
   * Architecture of the functions; picks the image platform and the onnxruntime binary.
   * @default lambda.Architecture.ARM_64
   */
  readonly architecture?: lambda.Architecture;
}

function dockerfile(handlers: readonly string[]): string {
  return `# Generated at synth by mlship (lib/pipelines/pipeline-image.ts); built by \`cdk deploy\`. Do not edit.
FROM ${BASE_IMAGE}
COPY node_modules/ \${LAMBDA_TASK_ROOT}/node_modules/
COPY models/ ${IMAGE_MODELS_DIR}/
COPY package.json \${LAMBDA_TASK_ROOT}/
${handlers.map((h) => `COPY ${h}/ \${LAMBDA_TASK_ROOT}/${h}/`).join('\n')}
CMD ["${handlers[0]}/index.handler"]
`;
}

/** A staged pipeline image: one Docker build context, any number of functions. */
export class PipelineImage {
  readonly dir: string;
  readonly platform: Platform;
  readonly handlers: readonly string[];
  private readonly codes = new Map<string, lambda.DockerImageCode>();

  constructor(props: PipelineImageProps) {
    const handlers = Object.keys(props.handlers).sort();
    if (handlers.length === 0) throw new Error('a pipeline image needs at least one handler');
    for (const name of handlers) {
      if (!HANDLER_NAME.test(name)) throw new Error(`handler name must be lower-case letters, digits or dashes, received '${name}'`);
    }
    const arch = ortArch(props.architecture ?? lambda.Architecture.ARM_64);
    const dir = stagingDir('mlship-pipeline-image-');
    writeFileSync(join(dir, 'Dockerfile'), dockerfile(handlers));
    writeFileSync(join(dir, 'package.json'), '{ "private": true, "type": "commonjs" }\n');
    for (const name of handlers) {
      const bundle = bundleHandler(resolve(props.handlers[name]!));
      placeBytes(join(dir, name, 'index.js'), bundle.js);
      placeBytes(join(dir, name, 'index.js.map'), bundle.map);
    }
    stageOnnxRuntime(join(dir, 'node_modules'), arch);
    for (const [model, modelDir] of Object.entries(props.models).sort(([a], [b]) => a.localeCompare(b))) {
      const missing = MODEL_FILES.filter((f) => !existsSync(join(modelDir, f)));
      if (missing.length > 0) throw new Error(`model ${model}: ${modelDir} has no ${missing.join(' or ')}`);
      // background.json too when the card names it: the batch scorer explains rows with it.
      for (const file of [...MODEL_FILES, ...namedOptionalFiles(modelDir)]) placeFile(join(modelDir, file), join(dir, 'models', model, file));
    }
    this.dir = dir;
    this.platform = arch === 'arm64' ? Platform.LINUX_ARM64 : Platform.LINUX_AMD64;
    this.handlers = handlers;
  }

  /** The image code of a function running `handler` (same image asset for every handler). */
  code(handler: string): lambda.DockerImageCode {
    if (!this.handlers.includes(handler)) throw new Error(`the pipeline image has no handler '${handler}' (it has: ${this.handlers.join(', ')})`);
    let code = this.codes.get(handler);
    if (!code) {
      code = lambda.DockerImageCode.fromImageAsset(this.dir, { platform: this.platform, cmd: [`${handler}/index.handler`] });
      this.codes.set(handler, code);
    }
    return code;
  }
}

function placeBytes(file: string, bytes: Uint8Array): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, bytes);
}
