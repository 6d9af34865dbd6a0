// The collect step of a SageMaker model: Batch Transform answered one KServe v2 request per row that
// parsed (the plan wrote them in row order, and AssembleWith Line keeps that order in `<file>.out`).
// This replays the rows through the batch core with a predictor that reads those answers instead of
// running a model, so rows get the same scored text and the same reject reasons as on Lambda.
import { createRecordScorer } from '../scorers';
import type { BatchPrediction } from '../../models/inference-session';
import type { Predictor } from '../../serving/model-api';
import type { ModelCard } from '../../models/model-card';
import { listAll, readText, type ObjectStore } from '../../storage/object-store';
import { parseTritonResponse } from '../../sagemaker/triton-protocol';
import { BatchAccountingError, workKeys, type BatchPartResult, type BatchPlan, type PlanFile, type RowItem } from './types';

/** Answers predict() from Batch Transform's output lines, in order. */
class TransformAnswers implements Predictor {
  private next = 0;
  constructor(
    readonly card: ModelCard,
    private readonly lines: readonly string[],
  ) {}

  get used(): number {
    return this.next;
  }

  async predict(_rows: Float32Array, count: number): Promise<BatchPrediction> {
    if (this.next + count > this.lines.length) throw new BatchAccountingError(`Batch Transform answered ${this.lines.length} rows, the plan sent more`);
    const width = this.card.task === 'regression' ? 1 : this.card.labels.length;
    const scores = new Float32Array(count * width);
    const classIndex = new Int32Array(this.card.task === 'regression' ? 0 : count);
    for (let i = 0; i < count; i++) {
      const line = this.lines[this.next + i]!;
      let answer;
      try {
        answer = parseTritonResponse(this.card, line, 1);
      } catch (error) {
        throw new Error(`Batch Transform's answer ${this.next + i + 1} is not a Triton answer for ${this.card.name}: ${(error as Error).message}`, { cause: error });
      }
      scores.set(answer.scores, i * width);
      if (classIndex.length > 0) classIndex[i] = answer.classIndex[0]!;
    }
    this.next += count;
    return { count, scores, width, classIndex };
  }
}

export interface CollectOptions {
  readonly store: ObjectStore;
  readonly bucket: string;
  readonly plan: BatchPlan;
  readonly card: ModelCard;
}

/** Turns Batch Transform's output into one scored part and its rejects; returns it as the summary step wants it. */
export async function collectTransform({ store, bucket, plan, card }: CollectOptions): Promise<{ batches: BatchPartResult[] }> {
  const transform = plan.transform;
  if (!transform) throw new TypeError(`the plan of ${plan.model} has no transform (runtime ${plan.runtime})`);
  if (card.name !== plan.model) throw new TypeError(`this step collects '${card.name}', the plan is for '${plan.model}'`);
  const keys = workKeys(plan.workPrefix);
  const lines: string[] = [];
  if (transform.rows > 0) {
    const outputs = (await listAll(store, bucket, keys.transformOutput)).filter((o) => o.key.endsWith('.out'));
    if (outputs.length === 0) throw new BatchAccountingError(`Batch Transform wrote no .out file under s3://${bucket}/${keys.transformOutput}`);
    for (const output of outputs) {
      for (const line of (await readText(store, bucket, output.key)).split('\n')) if (line.trim() !== '') lines.push(line);
    }
  }
  if (lines.length !== transform.rows) throw new BatchAccountingError(`Batch Transform answered ${lines.length} rows, the plan sent ${transform.rows}`);
  const answers = new TransformAnswers(card, lines);
  const planFile = JSON.parse(await readText(store, bucket, keys.plan)) as PlanFile;
  const scorer = createRecordScorer(answers, { format: plan.format });
  let scored = '';
  let rejects = '';
  let file = -1;
  let firstRow = 0;
  let lastRow = 0;
  let rows = 0;
  for (const line of (await readText(store, bucket, keys.rows)).split('\n')) {
    if (line === '') continue;
    const item = JSON.parse(line) as RowItem;
    if (plan.format === 'csv' && item.file !== file) {
      file = item.file;
      scorer.header(planFile.files[file]!.header!);
    }
    const part = await scorer.record(item.row, item.text);
    scored += part.scored;
    rejects += part.rejects;
    if (rows === 0) firstRow = item.row;
    lastRow = item.row;
    rows += 1;
  }
  const last = await scorer.end();
  scored += last.scored;
  rejects += last.rejects;
  if (answers.used !== lines.length) throw new BatchAccountingError(`Batch Transform answered ${lines.length} rows, the rows that parse are ${answers.used}`);
  if (rows === 0) return { batches: [] };
  const part = keys.part(firstRow);
  await store.write(bucket, part.scored, scored, 'text/csv');
  await store.write(bucket, part.rejects, rejects, 'application/x-ndjson');
  const summary = scorer.summary();
  return { batches: [{ firstRow, lastRow, rows, rowsScored: summary.rowsScored, rowsRejected: summary.rowsRejected, scoredKey: part.scored, rejectsKey: part.rejects }] };
}
