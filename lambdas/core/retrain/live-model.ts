// What retraining needs of the live model and of the gathered data: the live card's split, family and
// hyper-parameters; data.csv read back as a matrix with the class index of every row, in the card's
// feature order; and the held-out split re-made exactly as the card's evaluation.split says.
import { parseCsv, toNumericTable } from '../common/csv';
import type { ModelCard } from '../models/model-card';
import type { ExplainSettings } from '../models/onboard-explain';
import { readText, type ObjectStore } from '../storage/object-store';
import type { Matrix } from '../models/training/matrix';
import { stratifiedSplit, type Split } from '../models/training/split';
import type { Family, TrainOptions } from '../models/training/train';
import { BadTrainingData, LiveModelMismatch } from './contract';
import { classOf, labelColumnOf } from './gather';

export interface GatheredData {
  readonly x: Matrix;
  readonly features: readonly string[];
  readonly labelColumn: string;
  readonly classIndex: number[];
}

/** Reads data.csv (written by the gather step) in the live card's feature order. */
export async function readGatheredData(store: ObjectStore, bucket: string, key: string, card: ModelCard): Promise<GatheredData> {
  const table = parseCsv(await readText(store, bucket, key), key);
  const labelColumn = labelColumnOf(card);
  const data = toNumericTable(table, labelColumn);
  if (data.features.join('\n') !== card.input.features.join('\n')) {
    throw new BadTrainingData(`${key}: its feature columns are not ${card.name} v${card.version}'s features in order; was it written by the gather step?`);
  }
  const classIndex = data.labels!.map((cell, i) => {
    const c = classOf(cell, card.labels);
    if (c === undefined) throw new BadTrainingData(`${key}: row ${i + 1} has the label '${cell}', not one of ${card.labels.join(', ')}`);
    return c;
  });
  return { x: data.x, features: data.features, labelColumn, classIndex };
}

/** The live card's held-out split settings; only a stratified split can be made again. */
export function liveSplitOf(card: ModelCard): { testFraction: number; seed: number } {
  const split = card.evaluation?.split;
  if (!split) throw new LiveModelMismatch(`${card.name} v${card.version}'s model.json has no evaluation, so there is no split to evaluate a candidate the same way`);
  if (split.strategy !== 'stratified') {
    throw new LiveModelMismatch(`${card.name} v${card.version} was evaluated on a '${split.strategy}' split; retraining re-makes only stratified splits (models trained by mlship train)`);
  }
  return { testFraction: split.testFraction, seed: split.seed };
}

/** The held-out split of the gathered rows, made exactly as the live card's evaluation.split says. */
export function heldOutSplit(card: ModelCard, classIndex: readonly number[]): Split {
  return stratifiedSplit(classIndex, liveSplitOf(card));
}

function numberOf(record: Record<string, unknown>, key: string): number | undefined {
  const value = record[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/**
 * The family and training options of the live model, from its card: the same split (testFraction, seed),
 * iterations or epochs, hidden units, activation, batch size and learning rate. L2 is chosen again on the
 * new data from the grid the live model chose from (its l2Search), as `mlship train` did; a card with a
 * fixed L2 and no search keeps that L2.
 */
export function liveTrainingOptions(card: ModelCard): { family: Family } & TrainOptions {
  if (card.family !== 'logreg' && card.family !== 'mlp') {
    throw new LiveModelMismatch(`${card.name} v${card.version} is an imported model (family ${card.family}); retraining trains the built-in families logreg and mlp only`);
  }
  const training = card.training ?? {};
  const split = liveSplitOf(card);
  const options: { -readonly [K in keyof TrainOptions]: TrainOptions[K] } = { seed: split.seed, testFraction: split.testFraction };
  const search = Array.isArray(training.l2Search) ? (training.l2Search as unknown[]).map((s) => numberOf(s as Record<string, unknown>, 'l2')).filter((v): v is number => v !== undefined) : [];
  const l2 = numberOf(training, 'l2');
  if (search.length > 0) options.l2Grid = search;
  else if (l2 !== undefined) options.l2 = l2;
  for (const key of ['iterations', 'epochs', 'hidden', 'batchSize', 'learningRate'] as const) {
    const value = numberOf(training, key);
    if (value !== undefined) options[key] = value;
  }
  if (training.activation === 'relu' || training.activation === 'tanh') options.activation = training.activation;
  return { family: card.family, ...options };
}

/**
 * How the candidate's explanation is built: as `mlship train` builds it (a background sample of up to
 * BACKGROUND_ROWS training-split rows, seeded with the split seed), with the live card's importance metric
 * and repeats, so that the two versions' permutation importance are figures of the same kind.
 */
export function liveExplainSettings(card: ModelCard): ExplainSettings {
  const importance = card.explanation?.importance;
  return importance ? { metric: importance.metric, repeats: importance.repeats } : {};
}
