// Step 5 of retraining, reached only when the gate passed: the candidate's files copied from the work
// folder to the registry at <model>/<version>/ (model.onnx, evaluation.json, background.json, then
// model.json last, so a version with a card is complete: a reader never finds a card whose files are
// missing), and the parameter naming the latest candidate set. A version already
// in the registry is never overwritten. Deploying stays a reviewed change: the message says how.
import { createHash } from 'node:crypto';
import { ObjectNotFoundError, type ObjectStore } from '../storage/object-store';
import { BACKGROUND_FILE } from '../explain/background';
import { registryKeys, VersionExists, type Candidate, type RegisterEvent, type Registered } from './contract';
import { registeredMessage } from './messages';

/** Where the candidate parameter goes: SSM in the cloud, a local file at home. */
export interface ParameterStore {
  put(name: string, value: string): Promise<void>;
}

export interface RegisterDependencies {
  readonly store: ObjectStore;
  readonly parameters: ParameterStore;
  /**
   * Where a version's files are, for people: s3://<registry>/<model>/<version>/ in the cloud, the folder locally.
   * @default - the s3 URI
   */
  readonly location?: (bucket: string, prefix: string) => string;
  /**
   * The command that puts the files into models/<model>/<version>/; undefined when they are there already (locally).
   * @default - `aws s3 cp --recursive <s3 uri> models/<model>/<version>/`
   */
  readonly fetchCommand?: (bucket: string, prefix: string) => string | undefined;
  /**
   * The manifest to set the new version in, for people.
   * @default 'models/manifest.yaml'
   */
  readonly manifestFile?: string;
  /** @default now */
  readonly now?: Date;
}

export async function registerCandidate(event: RegisterEvent, deps: RegisterDependencies): Promise<Registered> {
  const { settings, execution, data, candidate, evaluation } = event;
  const { store } = deps;
  const version = candidate.version;
  const target = registryKeys(settings.model, version);
  const registry = settings.registryBucket;
  try {
    await store.read(registry, target.card);
    throw new VersionExists(`the registry already has ${settings.model} v${version} (${target.card}); versions are never overwritten, start the retraining again`);
  } catch (error) {
    if (!(error instanceof ObjectNotFoundError)) throw error;
  }
  const bucket = settings.dataBucket;
  const card = await store.read(bucket, candidate.cardKey);
  const background = await candidateBackground(store, bucket, candidate, card);
  await store.write(registry, target.onnx, await store.read(bucket, candidate.onnxKey), 'application/octet-stream');
  await store.write(registry, target.evaluation, await store.read(bucket, evaluation.evaluationKey), 'application/json');
  if (background) await store.write(registry, target.background, background, 'application/json');
  await store.write(registry, target.card, card, 'application/json');

  const s3Uri = `s3://${registry}/${target.prefix}`;
  const location = (deps.location ?? (() => s3Uri))(registry, target.prefix);
  const fetchCommand = (deps.fetchCommand ?? (() => `aws s3 cp --recursive ${s3Uri} models/${settings.model}/${version}/`))(registry, target.prefix);
  const parameter = {
    model: settings.model,
    version,
    uri: s3Uri,
    registeredAt: (deps.now ?? new Date()).toISOString(),
    execution,
    metric: evaluation.metric,
    candidateScore: evaluation.candidateScore,
    liveScore: evaluation.liveScore,
    liveVersion: evaluation.liveVersion,
    tolerance: evaluation.tolerance,
    heldOutRows: evaluation.heldOutRows,
    dataRows: data.rowsAccepted,
    rowsRejected: data.rowsRejected,
    source: data.source,
  };
  await deps.parameters.put(settings.candidateParameter, JSON.stringify(parameter));
  const message = registeredMessage({
    settings,
    data,
    trainRows: candidate.trainSize,
    evaluation,
    execution,
    location,
    fetchCommand,
    manifestFile: deps.manifestFile,
    files: background ? ['model.onnx', 'model.json', BACKGROUND_FILE, 'evaluation.json'] : undefined,
  });
  return { version, uri: location, parameterName: settings.candidateParameter, message };
}

/**
 * The candidate's background.json, checked against what its card says (explanation.background.sha256);
 * undefined for a card that names none. A card naming a background that is missing or differs is never
 * registered: the version could not be explained.
 */
async function candidateBackground(store: ObjectStore, bucket: string, candidate: Candidate, cardBytes: Uint8Array): Promise<Uint8Array | undefined> {
  const named = (JSON.parse(Buffer.from(cardBytes).toString('utf8')) as { explanation?: { background?: { sha256?: unknown } } }).explanation?.background;
  if (!named) return undefined;
  if (candidate.backgroundKey === null) throw new Error(`the candidate's ${candidate.cardKey} names a ${BACKGROUND_FILE}, but the Train step recorded none (candidate.backgroundKey)`);
  const bytes = await store.read(bucket, candidate.backgroundKey);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== named.sha256) throw new Error(`${candidate.backgroundKey} has sha256 ${sha256}, the candidate's card says ${String(named.sha256)}; not registered`);
  return bytes;
}
