// The model data of a SageMaker Triton endpoint: at synth, a Triton model repository for one model version
// (`<model>/config.pbtxt`, generated from model.json, and `<model>/<version>/model.onnx`) packed as
// model.tar.gz in a staged folder, then uploaded as an S3 file asset. The archive is deterministic (fixed
// order, modes, owner and mtimes; portable gzip header), and the asset hash is the sha256 of the
// uncompressed archive, so the asset, and with it the endpoint config, changes exactly when the model
// or its Triton config does.
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { AssetHashType } from 'aws-cdk-lib';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import type { Construct } from 'constructs';
import { create as createTar } from 'tar';
import { modelCardSchema, type ModelCard } from '../../lambdas/core/models/model-card';
import { inspectOnnx, OnnxFormatError } from '../../lambdas/core/models/onnx-inspect';
import { parseWithSchema } from '../../lambdas/core/common/schema-errors';
import { tritonConfig, tritonRepositoryPaths, type TritonDevice } from '../../lambdas/core/sagemaker/triton-config';
import { stagingDir } from '../private/staging';

/** Every entry's mtime in the archive; any fixed date keeps the archive's bytes a function of its contents. */
export const ARCHIVE_MTIME = new Date('2000-01-01T00:00:00.000Z');

export interface TritonModelDataProps {
  /** Folder of the model version: model.json (the card the config is generated from) and model.onnx. */
  readonly modelDir: string;
  /** Most instances in one request: Triton's max_batch_size (capped, see TRITON_MAX_BATCH_SIZE). */
  readonly maxBatchSize: number;
  /** Where Triton runs the model: KIND_GPU or KIND_CPU. */
  readonly device: TritonDevice;
  /**
   * Longest wait of a request in Triton's dynamic batcher, in microseconds.
   * @default 100
   */
  readonly maxQueueDelayMicroseconds?: number;
}

export interface StagedTritonModelData {
  /** The staged model.tar.gz (in a temp folder removed when the process exits). */
  readonly file: string;
  /** sha256 of the uncompressed archive: the asset hash. */
  readonly hash: string;
  /** The generated config.pbtxt. */
  readonly config: string;
  /** The model card it was generated from. */
  readonly card: ModelCard;
  /** The archive's entries, in order. */
  readonly entries: readonly string[];
}

function readCard(modelDir: string): ModelCard {
  const file = join(modelDir, 'model.json');
  if (!existsSync(file)) throw new Error(`modelDir ${modelDir} has no model.json: Triton's config.pbtxt is generated from it`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`${file} is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = parseWithSchema(modelCardSchema, raw);
  if (!parsed.ok) throw new Error(`${file} is not a valid model card: ${parsed.errors.join('; ')}`);
  return parsed.data;
}

/** Stages the model repository and packs it as model.tar.gz in a new temp folder. */
export function stageTritonModelData(props: TritonModelDataProps): StagedTritonModelData {
  const card = readCard(props.modelDir);
  const onnxFile = join(props.modelDir, 'model.onnx');
  if (!existsSync(onnxFile)) throw new Error(`modelDir ${props.modelDir} has no model.onnx`);
  let graph;
  try {
    graph = inspectOnnx(readFileSync(onnxFile));
  } catch (error) {
    if (error instanceof OnnxFormatError) throw new Error(`${onnxFile}: ${error.message}`);
    throw error;
  }
  const config = tritonConfig(card, { maxBatchSize: props.maxBatchSize, device: props.device, maxQueueDelayMicroseconds: props.maxQueueDelayMicroseconds, graph });

  const dir = stagingDir('mlship-triton-');
  const repo = join(dir, 'repository');
  const paths = tritonRepositoryPaths(card);
  // Copies (not hard links), so setting their modes never touches the model folder.
  mkdirSync(join(repo, paths.versionDir), { recursive: true });
  writeFileSync(join(repo, paths.config), config);
  copyFileSync(onnxFile, join(repo, paths.onnx));
  for (const d of [card.name, paths.versionDir]) chmodSync(join(repo, d), 0o755);
  for (const f of [paths.config, paths.onnx]) chmodSync(join(repo, f), 0o644);

  // Listed one by one (no directory recursion), so the order never depends on the file system.
  const entries = [card.name, paths.config, paths.versionDir, paths.onnx];
  const file = join(dir, 'model.tar.gz');
  // portable: no uid/gid/user names/atime/ctime, and a gzip header without mtime or OS.
  createTar({ sync: true, gzip: true, portable: true, noDirRecurse: true, mtime: ARCHIVE_MTIME, cwd: repo, file }, entries);
  const hash = createHash('sha256').update(gunzipSync(readFileSync(file))).digest('hex');
  return { file, hash, config, card, entries };
}

/** The staged model.tar.gz as an S3 file asset, hashed by its uncompressed contents. */
export function tritonModelDataAsset(scope: Construct, id: string, props: TritonModelDataProps): { asset: s3assets.Asset; staged: StagedTritonModelData } {
  const staged = stageTritonModelData(props);
  const asset = new s3assets.Asset(scope, id, { path: staged.file, assetHash: staged.hash, assetHashType: AssetHashType.CUSTOM });
  return { asset, staged };
}
