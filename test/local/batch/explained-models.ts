// A models folder for batch explanation tests, in a temp dir: the shipped breast-cancer and digits
// versions copied, each with a background sample (its own background.json when the shipped folder has
// one; otherwise 100 seeded rows of its data file, named in the card as `mlship train` names it), and a
// manifest with the runtime and batch.explainTopK each test asks for.
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { readCsvFile, toNumericTable } from '../../../lambdas/core/common/csv';
import { BACKGROUND_FILE, backgroundFileText, sampleBackground } from '../../../lambdas/core/explain/background';
import type { ModelCard } from '../../../lambdas/core/models/model-card';
import { PROJECT_ROOT } from '../../../lib/private/bundle';

const DATA = { 'breast-cancer': 'breast_cancer.csv', digits: 'digits.csv.gz' } as const;
export type ShippedModel = keyof typeof DATA;

export interface ExplainedModelOptions {
  /** @default 'sagemaker' for digits, as shipped */
  readonly digitsRuntime?: 'lambda' | 'sagemaker';
  /** The manifest's batch.explainTopK per model. @default 0 */
  readonly explainTopK?: Partial<Record<ShippedModel, number>>;
  /** The manifest's batch.rowsPerBatch per model. @default 5000 */
  readonly rowsPerBatch?: Partial<Record<ShippedModel, number>>;
  /** Leave the background out of these models' folders and cards. */
  readonly withoutBackground?: readonly ShippedModel[];
}

/** The rows of a model's data file, in its card's feature order (float32, row-major). */
export function dataRows(name: ShippedModel, card: ModelCard): { x: Float32Array; rows: number } {
  const table = toNumericTable(readCsvFile(join(PROJECT_ROOT, 'models', name, 'data', DATA[name])));
  const p = card.input.features.length;
  const columns = card.input.features.map((f) => table.features.indexOf(f));
  const x = new Float32Array(table.x.rows * p);
  for (let r = 0; r < table.x.rows; r++) columns.forEach((c, j) => (x[r * p + j] = table.x.data[r * table.features.length + c]!));
  return { x, rows: table.x.rows };
}

/** Writes `<dir>/models/...` and returns the manifest's path. */
export function explainedModels(dir: string, options: ExplainedModelOptions = {}): string {
  const root = join(dir, 'models');
  for (const name of Object.keys(DATA) as ShippedModel[]) {
    const to = join(root, name, '1');
    cpSync(join(PROJECT_ROOT, 'models', name, '1'), to, { recursive: true });
    const cardPath = join(to, 'model.json');
    const card = JSON.parse(readFileSync(cardPath, 'utf8')) as ModelCard;
    if (options.withoutBackground?.includes(name)) {
      delete (card as { explanation?: unknown }).explanation;
    } else if (!card.explanation?.background || !existsSync(join(to, BACKGROUND_FILE))) {
      const { x, rows } = dataRows(name, card);
      const seed = 19;
      const text = backgroundFileText(card.input.features, sampleBackground(x, rows, card.input.features.length, seed, 100));
      writeFileSync(join(to, BACKGROUND_FILE), text);
      const background = { file: BACKGROUND_FILE, rows: 100, sha256: createHash('sha256').update(text).digest('hex'), seed, source: `100 of the ${rows} rows of ${DATA[name]}, seeded sample (test)` } as const;
      (card as { explanation?: unknown }).explanation = { ...card.explanation, background };
    }
    writeFileSync(cardPath, `${JSON.stringify(card, null, 2)}\n`);
  }
  const manifest = {
    project: 'mlship',
    stage: 'dev',
    models: [
      { name: 'breast-cancer', version: 1, runtime: 'lambda', batch: { rowsPerBatch: options.rowsPerBatch?.['breast-cancer'] ?? 5000, explainTopK: options.explainTopK?.['breast-cancer'] ?? 0 } },
      { name: 'digits', version: 1, runtime: options.digitsRuntime ?? 'sagemaker', batch: { rowsPerBatch: options.rowsPerBatch?.digits ?? 5000, explainTopK: options.explainTopK?.digits ?? 0 } },
    ],
  };
  const file = join(root, 'manifest.yaml');
  writeFileSync(file, stringify(manifest));
  return file;
}
