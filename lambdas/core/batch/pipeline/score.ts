// The batch scorer: one Distributed Map item, a range of whole rows of an input file (its bytes, its first
// row's number), read from the bucket and scored with the batch core, so each row gets exactly the answer
// or reject reason it gets from scoreText over the whole file. Writes the batch's scored rows (and its
// rejects, when it has any) as work files and returns only counts and keys. When the plan says the run
// explains, each scored row also gets its top attributions (batch-explain.ts), computed here on the same
// chunk of rows by the model's Explainer, which is made the first time a run needs it.
import { RowExplainer } from '../batch-explain';
import { DEFAULT_CHUNK_ROWS } from '../batch-format';
import { createRangeScorer } from '../scorers';
import type { Explainer } from '../../explain/explainer';
import { explainerForFolder } from '../../explain/model-folder';
import type { Predictor } from '../../serving/model-api';
import { readText, type ObjectStore } from '../../storage/object-store';
import { BatchAccountingError, workKeys, type BatchPartResult, type PlanFile, type RangeItem, type ScoreBatchEvent } from './types';

/** The files of a run (plan.json: headers, sources), read once per run and kept while the function stays warm. */
export class PlanCache {
  private readonly plans = new Map<string, Promise<PlanFile>>();

  constructor(
    private readonly store: ObjectStore,
    private readonly bucket: string,
  ) {}

  get(workPrefix: string): Promise<PlanFile> {
    let plan = this.plans.get(workPrefix);
    if (!plan) {
      plan = readText(this.store, this.bucket, workKeys(workPrefix).plan).then((text) => JSON.parse(text) as PlanFile);
      plan.catch(() => this.plans.delete(workPrefix));
      // A warm function serves later runs too: keep a few.
      if (this.plans.size >= 8) this.plans.delete(this.plans.keys().next().value!);
      this.plans.set(workPrefix, plan);
    }
    return plan;
  }
}

function checkEvent(event: ScoreBatchEvent, model: string): void {
  if (!event || !Array.isArray(event.Items) || typeof event.BatchInput !== 'object' || event.BatchInput === null) {
    throw new TypeError('the event must be an ItemBatcher batch: {"Items": [...], "BatchInput": {...}}');
  }
  if (event.BatchInput.model !== model) throw new TypeError(`this function scores '${model}', the batch is for '${String(event.BatchInput.model)}'`);
  if (typeof event.BatchInput.workPrefix !== 'string' || !event.BatchInput.workPrefix.startsWith('_work/')) throw new TypeError(`BatchInput.workPrefix must be the run's _work/ prefix, received ${JSON.stringify(event.BatchInput.workPrefix)}`);
  if (event.Items.length === 0) throw new TypeError('the batch has no Items');
}

/** The model's explainer and the rows of its background sample, made when a run first explains. */
export type ExplainerSource = () => Promise<{ readonly explainer: Explainer; readonly backgroundRows: number }>;

/**
 * The explainer of the model in `modelDir` (model.onnx, model.json, background.json), scoring through
 * `model`: made once, on first use. Throws when the card names no background sample or its file is wrong.
 */
export function modelFolderExplainer(modelDir: string, model: Predictor): ExplainerSource {
  let made: ReturnType<ExplainerSource> | undefined;
  return () => {
    made ??= (async () => {
      const { card } = model;
      const folder = explainerForFolder(modelDir, card, (rows, count) => model.predict(rows, count));
      if (!folder) throw new TypeError(`model ${card.name} v${card.version} in ${modelDir} has no background sample (model.json explanation.background), so its rows cannot be explained`);
      return folder;
    })();
    made.catch(() => (made = undefined));
    return made;
  };
}

export interface ScoreBatchOptions {
  readonly store: ObjectStore;
  readonly bucket: string;
  readonly predictor: Predictor;
  readonly plans: PlanCache;
  readonly event: ScoreBatchEvent;
  /**
   * The model's explainer, for runs whose plan explains.
   * @default - a run that explains fails: this scorer cannot explain
   */
  readonly explainer?: ExplainerSource;
}

/** Checks an item: a range of a file the plan lists. */
function checkItem(item: RangeItem, plan: PlanFile): void {
  const valid = (n: unknown, min: number) => typeof n === 'number' && Number.isInteger(n) && n >= min;
  if (!item || !valid(item.file, 0) || !valid(item.start, 0) || !valid(item.end, 1) || !valid(item.firstRow, 1) || !valid(item.rows, 1) || item.end <= item.start) {
    throw new TypeError(`an item must be {"file", "start", "end", "firstRow", "rows"} (a range of whole rows), received ${JSON.stringify(item)?.slice(0, 200)}`);
  }
  const file = plan.files[item.file];
  if (!file?.source) throw new TypeError(`the item from row ${item.firstRow} names file ${item.file}, which plan.json does not list with a source`);
  if (plan.format === 'csv' && file.header === undefined) throw new TypeError(`the item from row ${item.firstRow} names file ${item.file}, which plan.json lists without a header`);
}

/** Scores one batch (its ranges, in row order) into `parts/<first row>.scored.csv` and `.rejects.jsonl`. */
export async function scoreBatch({ store, bucket, predictor, plans, event, explainer }: ScoreBatchOptions): Promise<BatchPartResult> {
  checkEvent(event, predictor.card.name);
  const { workPrefix, format } = event.BatchInput;
  const plan = await plans.get(workPrefix);
  if (plan.format !== format) throw new TypeError(`BatchInput.format '${format}' is not the plan's '${plan.format}'`);
  let explain: RowExplainer | undefined;
  if (plan.explain) {
    if (!explainer) throw new TypeError(`the plan asks for ${plan.explain.topK} attributions per row, and this scorer of ${predictor.card.name} has no explainer`);
    const made = await explainer();
    explain = new RowExplainer(made.explainer, predictor.card, made.backgroundRows, plan.explain);
  }
  const items: RangeItem[] = [...event.Items].sort((a, b) => a.firstRow - b.firstRow);
  let scored = '';
  let rejects = '';
  let rowsScored = 0;
  let rowsRejected = 0;
  for (const item of items) {
    checkItem(item, plan);
    const file = plan.files[item.file]!;
    // One predict() for the range (a chunk no larger than it: a chunk is allocated per range).
    const chunkRows = Math.min(item.rows, DEFAULT_CHUNK_ROWS);
    const scorer = createRangeScorer(predictor, { format, chunkRows, firstRow: item.firstRow, ...(file.header !== undefined ? { header: file.header } : {}), ...(explain ? { explain } : {}) });
    // The range whole (rowsPerBatch rows, one read locally): the scorer reads plain CSV from the bytes
    // and decodes the rest as scoreFile's read stream decodes a file (StringDecoder), so bad bytes read the
    // same; no range holds a BOM (the splitter starts the first one after it).
    const pieces: Uint8Array[] = [];
    for await (const bytes of store.readStream(bucket, file.source!, { start: item.start, end: item.end - 1 })) pieces.push(bytes);
    const part = await scorer.pushRange(pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces));
    const end = await scorer.end();
    scored += part.scored + end.scored;
    rejects += part.rejects + end.rejects;
    const summary = scorer.summary();
    // The plan counted the rows of this range; anything else means the bytes are not the ones it read.
    if (summary.rowsIn !== item.rows) {
      throw new BatchAccountingError(`the range of s3://${bucket}/${file.source} from byte ${item.start} to ${item.end} holds ${summary.rowsIn} rows, the plan counted ${item.rows} from row ${item.firstRow} (was the input changed during the run?)`);
    }
    rowsScored += summary.rowsScored;
    rowsRejected += summary.rowsRejected;
  }
  const firstRow = items[0]!.firstRow;
  const last = items.at(-1)!;
  const rows = items.reduce((n, item) => n + item.rows, 0);
  const keys = workKeys(workPrefix).part(firstRow);
  await Promise.all([store.write(bucket, keys.scored, scored, 'text/csv'), rejects === '' ? undefined : store.write(bucket, keys.rejects, rejects, 'application/x-ndjson')]);
  return { firstRow, lastRow: last.firstRow + last.rows - 1, rows, rowsScored, rowsRejected, scoredKey: keys.scored, ...(rejects === '' ? {} : { rejectsKey: keys.rejects }) };
}

export function createScoreHandler(deps: { store: ObjectStore; bucket: string; predictor: Predictor; explainer?: ExplainerSource }): (event: ScoreBatchEvent) => Promise<BatchPartResult> {
  const plans = new PlanCache(deps.store, deps.bucket);
  return async (event) => scoreBatch({ ...deps, plans, event });
}
