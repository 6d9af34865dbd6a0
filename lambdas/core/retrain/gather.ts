// Step 1 of retraining: every CSV file under the data prefix (in key order), each with the live model's
// columns (its features and its label column, in any order), concatenated into one canonical data.csv
// (features in the card's order, then the label as the class name) in the execution's work folder. A row
// that cannot be trained on (wrong number of fields, a feature that is not a finite number, an empty or
// unknown label) is rejected with its file, row, line and reason into rejects.jsonl and counted; none is
// dropped silently. Too few accepted rows fails the step with NotEnoughData and the counts.
import { createHash } from 'node:crypto';
import { parse } from 'csv-parse/sync';
import { maybeGunzip } from '../common/csv';
import type { ModelCard } from '../models/model-card';
import { listAll, type ObjectStore } from '../storage/object-store';
import { BadTrainingData, NotEnoughData, TRAINING_DATA_PREFIX, workKeys, type GatherEvent, type GatherResult } from './contract';

/** Shown in a reject's `input`, at most. */
const MAX_INPUT_CHARS = 500;
/** Rejects quoted in the result (and so in the notification). */
const FIRST_REJECTS = 3;
const CSV_FILE = /\.csv(\.gz)?$/i;

export interface GatherDependencies {
  readonly store: ObjectStore;
  /** The live model's card: its features, label column and class labels. */
  readonly liveCard: ModelCard;
  /**
   * How the data's origin is recorded (in the result and the candidate's card).
   * @default - s3://<bucket>/<prefix>
   */
  readonly describeSource?: (bucket: string, prefix: string) => string;
}

/** The live card's label column (cards written by `mlship train` record it under training.labelColumn). */
export function labelColumnOf(card: ModelCard): string {
  const column = card.training?.labelColumn;
  if (typeof column !== 'string' || column === '') {
    throw new BadTrainingData(`${card.name} v${card.version}'s model.json records no training.labelColumn, so the label column of the data is unknown`);
  }
  return column;
}

/** One CSV field, quoted when it must be. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) || value !== value.trim() ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Maps a label cell to a class index: a class name, or a class index 0..n-1; undefined for anything else. */
export function classOf(cell: string, labels: readonly string[]): number | undefined {
  const byName = labels.indexOf(cell);
  if (byName >= 0) return byName;
  if (/^\d+$/.test(cell) && Number(cell) < labels.length) return Number(cell);
  return undefined;
}

interface Reject {
  readonly file: string;
  readonly row: number;
  readonly line: number;
  readonly reason: string;
  readonly input: string;
}

function describeCell(cell: string): string {
  return `'${cell.length > 40 ? `${cell.slice(0, 37)}...` : cell}'`;
}

/** Why a record cannot be trained on, or undefined when it can. */
function rowProblem(record: readonly string[], width: number, header: readonly string[], featureAt: readonly number[], labelAt: number, labels: readonly string[]): string | undefined {
  if (record.length !== width) return `has ${record.length} values, the header has ${width} columns`;
  for (const c of featureAt) {
    const cell = record[c]!;
    if (cell === '') return `column '${header[c]}' is empty, expected a number`;
    if (!Number.isFinite(Number(cell))) return `column '${header[c]}': ${describeCell(cell)} is not a finite number`;
  }
  const label = record[labelAt]!;
  if (label === '') return `column '${header[labelAt]}': the label is empty (an unlabelled row cannot be trained on)`;
  if (classOf(label, labels) === undefined) {
    return `column '${header[labelAt]}': ${describeCell(label)} is neither one of the labels ${labels.join(', ')} nor a class index 0..${labels.length - 1}`;
  }
  return undefined;
}

/** Gathers the labelled rows under the execution's data prefix into the work folder. */
export async function gatherTrainingData(event: GatherEvent, deps: GatherDependencies): Promise<GatherResult> {
  const { settings, input, execution } = event;
  const { store, liveCard } = deps;
  const bucket = settings.dataBucket;
  const prefix = input.dataPrefix ?? settings.defaultDataPrefix;
  if (!prefix.startsWith(TRAINING_DATA_PREFIX) || prefix.split('/').includes('..')) {
    throw new BadTrainingData(`dataPrefix must be under ${TRAINING_DATA_PREFIX} in the data bucket (e.g. ${settings.defaultDataPrefix}), received '${prefix}'`);
  }
  const source = (deps.describeSource ?? ((b, p) => `s3://${b}/${p}`))(bucket, prefix);
  const features = liveCard.input.features;
  const labelColumn = labelColumnOf(liveCard);
  const labels = liveCard.labels;
  if (labels.length < 2) throw new BadTrainingData(`${liveCard.name} v${liveCard.version} is not a classifier (it has no class labels); retraining trains classifiers`);
  const expected = [...features, labelColumn];

  const objects = await listAll(store, bucket, prefix);
  const csvFiles = objects.filter((o) => CSV_FILE.test(o.key));
  const skipped = objects.filter((o) => !CSV_FILE.test(o.key)).map((o) => o.key);
  if (csvFiles.length === 0) {
    throw new NotEnoughData(`no CSV files (.csv or .csv.gz) under ${source}${skipped.length > 0 ? ` (${skipped.length} other objects left out)` : ''}; retrain.minRows is ${settings.minRows}`);
  }

  const keys = workKeys(execution);
  const out: string[] = [`${expected.map(csvField).join(',')}\n`];
  const rejects: Reject[] = [];
  const classCounts = new Array<number>(labels.length).fill(0);
  const files: GatherResult['files'] = [];
  let rowsRead = 0;
  for (const object of csvFiles) {
    const text = Buffer.from(maybeGunzip(await store.read(bucket, object.key), object.key)).toString('utf8');
    let records: { record: string[]; info: { lines: number } }[];
    try {
      records = parse(text, { info: true, relax_column_count: true, skip_empty_lines: true, bom: true, trim: true }) as unknown as typeof records;
    } catch (error) {
      const e = error as Error & { lines?: number };
      throw new BadTrainingData(`${object.key}: not valid CSV${e.lines ? ` near line ${e.lines}` : ''}: ${e.message.replace(/^[^:]*: /, '')}`);
    }
    const header = records[0]?.record ?? [];
    const missing = expected.filter((c) => !header.includes(c));
    const unexpected = header.filter((c) => !expected.includes(c));
    if (missing.length > 0 || unexpected.length > 0 || header.length !== expected.length) {
      const parts = [
        ...(missing.length > 0 ? [`lacks ${missing.map((c) => `'${c}'`).join(', ')}`] : []),
        ...(unexpected.length > 0 ? [`has unknown columns ${unexpected.map((c) => `'${c}'`).join(', ')}`] : []),
        ...(missing.length === 0 && unexpected.length === 0 ? ['names a column twice'] : []),
      ];
      throw new BadTrainingData(
        `${object.key}: the header ${parts.join(' and ')}; every file must have ${liveCard.name} v${liveCard.version}'s ${features.length} features and its label column '${labelColumn}'`,
      );
    }
    const featureAt = features.map((f) => header.indexOf(f));
    const labelAt = header.indexOf(labelColumn);
    let accepted = 0;
    let rejected = 0;
    records.slice(1).forEach(({ record, info }, i) => {
      const problem = rowProblem(record, header.length, header, featureAt, labelAt, labels);
      if (problem !== undefined) {
        rejected++;
        const raw = record.join(',');
        rejects.push({ file: object.key, row: i + 1, line: info.lines, reason: problem, input: raw.length > MAX_INPUT_CHARS ? `${raw.slice(0, MAX_INPUT_CHARS)}...` : raw });
        return;
      }
      accepted++;
      const label = classOf(record[labelAt]!, labels)!;
      classCounts[label]!++;
      out.push(`${featureAt.map((c) => record[c]!).join(',')},${csvField(labels[label]!)}\n`);
    });
    rowsRead += records.length - 1;
    files.push({ key: object.key, rows: records.length - 1, accepted, rejected });
  }

  const rowsAccepted = rowsRead - rejects.length;
  let rejectsKey: string | null = null;
  if (rejects.length > 0) {
    rejectsKey = keys.rejects;
    await store.write(bucket, rejectsKey, rejects.map((r) => `${JSON.stringify(r)}\n`).join(''), 'application/x-ndjson');
  }
  const rejectedNote = rejects.length > 0 ? `, ${rejects.length} rejected (s3://${bucket}/${rejectsKey})` : '';
  if (rowsAccepted < settings.minRows) {
    throw new NotEnoughData(`${rowsAccepted} labelled rows under ${source} (${rowsRead} read in ${csvFiles.length} files${rejectedNote}); retrain.minRows is ${settings.minRows}`);
  }
  const present = classCounts.filter((n) => n > 0).length;
  if (present < 2) {
    const only = labels[classCounts.findIndex((n) => n > 0)];
    throw new NotEnoughData(`every one of the ${rowsAccepted} labelled rows under ${source} is '${only}'; a classifier needs at least two classes`);
  }
  const body = out.join('');
  await store.write(bucket, keys.data, body, 'text/csv');
  return {
    source,
    prefix,
    files,
    skipped,
    rowsRead,
    rowsAccepted,
    rowsRejected: rejects.length,
    classCounts: Object.fromEntries(labels.map((l, i) => [l, classCounts[i]!])),
    dataKey: keys.data,
    sha256: createHash('sha256').update(body).digest('hex'),
    rejectsKey,
    firstRejects: rejects.slice(0, FIRST_REJECTS).map((r) => `${r.file} row ${r.row}: ${r.reason}`),
  };
}
