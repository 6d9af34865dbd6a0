// The batch scorer: one Distributed Map batch (rows with their global numbers and raw text) scored with
// the batch core, so each row gets exactly the answer or reject reason it gets from scoreText. Writes the
// batch's scored rows and rejects as two work files and returns only counts and keys.
import { createRecordScorer } from '../batch-scoring';
import type { Predictor } from '../model-api';
import { readText, type ObjectStore } from '../object-store';
import { workKeys, type BatchPartResult, type PlanFile, type RowItem, type ScoreBatchEvent } from './types';

/** Headers of a run's files (plan.json), read once per run and kept while the function stays warm. */
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

export interface ScoreBatchOptions {
  readonly store: ObjectStore;
  readonly bucket: string;
  readonly predictor: Predictor;
  readonly plans: PlanCache;
  readonly event: ScoreBatchEvent;
}

/** Scores one batch into `parts/<first row>.scored.csv` and `.rejects.jsonl`. */
export async function scoreBatch({ store, bucket, predictor, plans, event }: ScoreBatchOptions): Promise<BatchPartResult> {
  checkEvent(event, predictor.card.name);
  const { workPrefix, format } = event.BatchInput;
  const plan = await plans.get(workPrefix);
  if (plan.format !== format) throw new TypeError(`BatchInput.format '${format}' is not the plan's '${plan.format}'`);
  const items: RowItem[] = [...event.Items].sort((a, b) => a.row - b.row);
  const scorer = createRecordScorer(predictor, { format });
  let scored = '';
  let rejects = '';
  let file = -1;
  for (const item of items) {
    if (format === 'csv' && item.file !== file) {
      file = item.file;
      const header = plan.files[file]?.header;
      if (header === undefined) throw new TypeError(`row ${item.row} names file ${file}, which plan.json does not list with a header`);
      scorer.header(header);
    }
    const part = await scorer.record(item.row, item.text);
    scored += part.scored;
    rejects += part.rejects;
  }
  const last = await scorer.end();
  scored += last.scored;
  rejects += last.rejects;
  const firstRow = items[0]!.row;
  const keys = workKeys(workPrefix).part(firstRow);
  await Promise.all([store.write(bucket, keys.scored, scored, 'text/csv'), store.write(bucket, keys.rejects, rejects, 'application/x-ndjson')]);
  const summary = scorer.summary();
  return { firstRow, lastRow: items.at(-1)!.row, rows: items.length, rowsScored: summary.rowsScored, rowsRejected: summary.rowsRejected, scoredKey: keys.scored, rejectsKey: keys.rejects };
}
