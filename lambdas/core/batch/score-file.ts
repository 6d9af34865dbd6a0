// Scores one local file into two output files (scored CSV, rejects JSON Lines) by streaming it through
// a batch scorer: memory stays at one read buffer plus one chunk of rows, whatever the file's size.
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { createBatchScorer, type BatchOutputPart, type BatchScorerOptions, type BatchSummary } from '../batch-scoring';
import type { Predictor } from '../model-api';

export interface ScoreFileOptions extends BatchScorerOptions {
  /** Where the scored rows go (CSV, header first). */
  readonly scoredPath: string;
  /** Where the rejects go (JSON Lines). */
  readonly rejectsPath: string;
  /**
   * Bytes read at a time.
   * @default 1048576
   */
  readonly readBytes?: number;
}

async function write(stream: WriteStream, text: string): Promise<void> {
  if (text.length > 0 && !stream.write(text)) await once(stream, 'drain');
}

async function close(stream: WriteStream): Promise<void> {
  await new Promise<void>((resolve, reject) => stream.end((error?: Error | null) => (error ? reject(error) : resolve())));
}

/** Reads `inputPath` (UTF-8), writes the scored CSV and the rejects JSONL, and returns the summary. */
export async function scoreFile(predictor: Predictor, inputPath: string, options: ScoreFileOptions): Promise<BatchSummary> {
  const scorer = createBatchScorer(predictor, options);
  const scored = createWriteStream(options.scoredPath);
  const rejects = createWriteStream(options.rejectsPath);
  const emit = async (part: BatchOutputPart) => {
    await write(scored, part.scored);
    await write(rejects, part.rejects);
  };
  try {
    const input = createReadStream(inputPath, { encoding: 'utf8', highWaterMark: options.readBytes ?? 1024 * 1024 });
    for await (const text of input) await emit(await scorer.push(text as string));
    await emit(await scorer.end());
  } finally {
    await Promise.all([close(scored), close(rejects)]);
  }
  return scorer.summary();
}
