// Step 2 of retraining: the built-in TypeScript trainer (what `mlship train` runs) with the live model's
// family and hyper-parameters, on the training part of the gathered rows split exactly as the live card's
// evaluation.split says. The candidate (model.onnx, and a model.json with evaluation, drift baseline, golden
// cases and explanation, with its background.json, as `mlship train` writes them) goes to the execution's
// work folder, as the next version: one above both the live version and the highest version already in
// the registry.
import { buildTrainedArtifact } from '../models/onboard-train';
import { modelCardSchema, type ModelCard } from '../models/model-card';
import { listAll, type ObjectStore } from '../storage/object-store';
import { parseWithSchema } from '../common/schema-errors';
import { BadTrainingData, LiveModelMismatch, workKeys, type Candidate, type TrainEvent } from './contract';
import { liveExplainSettings, liveTrainingOptions, readGatheredData } from './live-model';

export interface TrainDependencies {
  readonly store: ObjectStore;
  readonly liveCard: ModelCard;
  /** createdAt of the candidate. @default now */
  readonly now?: Date;
}

/** The versions of `model` in the registry (keys `<model>/<version>/...`), ascending. */
export async function registryVersions(store: ObjectStore, bucket: string, model: string): Promise<number[]> {
  const versions = new Set<number>();
  for (const { key } of await listAll(store, bucket, `${model}/`)) {
    const match = /^[^/]+\/([1-9]\d*)\//.exec(key);
    if (match) versions.add(Number(match[1]));
  }
  return [...versions].sort((a, b) => a - b);
}

export async function trainCandidate(event: TrainEvent, deps: TrainDependencies): Promise<Candidate> {
  const { settings, execution, data } = event;
  const { store, liveCard } = deps;
  if (liveCard.name !== settings.model || liveCard.version !== settings.liveVersion) {
    throw new LiveModelMismatch(`the live model here is ${liveCard.name} v${liveCard.version}, the state machine says ${settings.model} v${settings.liveVersion}`);
  }
  const options = liveTrainingOptions(liveCard);
  const gathered = await readGatheredData(store, settings.dataBucket, data.dataKey, liveCard);
  if (gathered.x.rows !== data.rowsAccepted) throw new BadTrainingData(`${data.dataKey} has ${gathered.x.rows} rows, the gather step accepted ${data.rowsAccepted}`);

  const existing = await registryVersions(store, settings.registryBucket, settings.model);
  const version = Math.max(settings.liveVersion, ...existing) + 1;
  const built = await buildTrainedArtifact({
    ...options,
    name: settings.model,
    version,
    data: { x: gathered.x, features: gathered.features, labelColumn: gathered.labelColumn },
    classes: { labels: [...liveCard.labels], classIndex: gathered.classIndex },
    trainingData: { file: data.source, sha256: data.sha256, rows: gathered.x.rows },
    ...(liveCard.input.image ? { image: liveCard.input.image } : {}),
    ...(deps.now ? { now: deps.now } : {}),
    // A background sample of the training split and permutation importance on the held-out split, so the
    // registered version can be explained (the :explain route and batch explainTopK refuse one without).
    explain: liveExplainSettings(liveCard),
  });
  if (built.backgroundText === undefined || !built.card.explanation) throw new Error('the trainer built no explanation for the candidate');
  const parsed = parseWithSchema(modelCardSchema, built.card);
  if (!parsed.ok) throw new Error(`the candidate's model card does not validate: ${parsed.errors.join('; ')}`);
  const keys = workKeys(execution);
  await store.write(settings.dataBucket, keys.onnx, built.onnxBytes, 'application/octet-stream');
  await store.write(settings.dataBucket, keys.background, built.backgroundText, 'application/json');
  await store.write(settings.dataBucket, keys.card, `${JSON.stringify(parsed.data, null, 2)}\n`, 'application/json');
  return {
    version,
    onnxKey: keys.onnx,
    cardKey: keys.card,
    backgroundKey: keys.background,
    family: options.family,
    trainSize: built.evaluation.trainSize,
    testSize: built.evaluation.testSize,
    trainingMs: built.trainingMs,
    notes: [...built.notes],
  };
}
