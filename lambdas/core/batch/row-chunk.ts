// The rows of one batch scorer (scorer.ts) on their way out: the record readers (csv-records.ts,
// jsonl-records.ts) write each good row's features straight into one Float32Array chunk and accept() it
// with its row number and id, or reject() it with a reason; a full chunk is scored with one predict() and
// answered with the same labels and rounding as the API's v1 answer. It also keeps the row numbering and
// the blank lines not yet judged, which both readers share, and the output text until it is taken.
// The readers reach its fields directly (count, chunk, rowNumber): they fill it in their hot loops.
import { rejectLine, scoredHeader, type BatchFormat, type BatchOutputPart, type BatchSummary } from './batch-format';
import type { RowExplainer } from './batch-explain';
import { ScoredLineWriter } from './scored-writer';
import type { BatchPrediction } from '../models/inference-session';
import type { Predictor } from '../serving/model-api';

export class RowChunk {
  readonly width: number;
  readonly chunkRows: number;
  /** chunkRows x width feature values; rows 0 .. count - 1 are filled. */
  readonly chunk: Float32Array;
  /** Input row number and id of each row in the chunk. */
  private readonly rowNumbers: Float64Array;
  private readonly ids: string[];
  count = 0;
  /** Writes the scored lines (labels as CSV fields; none for regression). */
  private readonly lines: ScoredLineWriter;
  private readonly regression: boolean;

  /** The number of the last row read. */
  rowNumber = 0;
  /** Blank lines seen and not yet judged: rejected when a row follows, ignored at the end of the input. */
  blankLines: number[] = [];
  private rowsScored = 0;
  private rowsRejected = 0;
  private headerWritten: boolean;
  private scoredOut = '';
  private rejectsOut = '';

  constructor(
    private readonly predictor: Predictor,
    private readonly format: BatchFormat,
    chunkRows: number,
    /** Whether the scored output starts with no header line (record and range mode). */
    headerless: boolean,
    /** Adds each scored row's explanation columns. */
    private readonly explain?: RowExplainer,
  ) {
    this.headerWritten = headerless;
    const card = predictor.card;
    this.width = card.input.features.length;
    this.chunkRows = chunkRows;
    this.chunk = new Float32Array(chunkRows * this.width);
    this.rowNumbers = new Float64Array(chunkRows);
    this.ids = new Array<string>(chunkRows).fill('');
    this.regression = card.task === 'regression';
    this.lines = new ScoredLineWriter(card.labels);
  }

  summary(): BatchSummary {
    return { rowsIn: this.rowsScored + this.rowsRejected, rowsScored: this.rowsScored, rowsRejected: this.rowsRejected };
  }

  /** The output since the last take (the scored CSV's header first, the first time, unless headerless). */
  take(): BatchOutputPart {
    let scored = this.scoredOut;
    if (!this.headerWritten) {
      this.headerWritten = true;
      scored = scoredHeader(this.predictor.card, this.explain?.topK ?? 0) + scored;
    }
    const part = { scored, rejects: this.rejectsOut };
    this.scoredOut = '';
    this.rejectsOut = '';
    return part;
  }

  reject(row: number, reason: string, input: string): void {
    this.rejectsOut += rejectLine(this.format, row, reason, input);
    this.rowsRejected++;
  }

  /** A row (not blank) follows: the blank lines before it were rows too, empty ones. */
  judgeBlankLines(): void {
    for (const row of this.blankLines) this.reject(row, 'empty line', '');
    this.blankLines = [];
  }

  /** The row just written at chunk row `count` is good: it is row `row` of the input, with this id. */
  accept(row: number, id: string): void {
    this.rowNumbers[this.count] = row;
    this.ids[this.count] = id;
    this.count++;
  }

  /** Scores the rows in the chunk and empties it. */
  async flush(): Promise<void> {
    const count = this.count;
    // A part-filled last chunk is copied: the tensor must be exactly count x features.
    const rows = count === this.chunkRows ? this.chunk : this.chunk.slice(0, count * this.width);
    const prediction = await this.predictor.predict(rows, count);
    // The same rows explained in this thread, before the chunk is reused.
    const tails = this.explain ? await this.explain.tails(rows, count) : undefined;
    this.scoredOut += this.regression ? this.formatValues(prediction, tails) : this.formatClasses(prediction, tails);
    this.rowsScored += count;
    this.count = 0;
  }

  private formatClasses(prediction: BatchPrediction, tails: readonly string[] | undefined): string {
    const { scores, width, classIndex } = prediction;
    const ids = this.ids;
    for (let i = 0; i < prediction.count; i++) {
      this.lines.classLine(this.rowNumbers[i]!, ids[i]!, classIndex[i]!, scores, i * width, width, tails?.[i]);
      ids[i] = '';
    }
    return this.lines.take();
  }

  private formatValues(prediction: BatchPrediction, tails: readonly string[] | undefined): string {
    const ids = this.ids;
    for (let i = 0; i < prediction.count; i++) {
      this.lines.valueLine(this.rowNumbers[i]!, ids[i]!, prediction.scores[i]!, tails?.[i]);
      ids[i] = '';
    }
    return this.lines.take();
  }
}
