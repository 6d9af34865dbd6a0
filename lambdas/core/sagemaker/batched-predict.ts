// The rows of one explanation round as the endpoint can take them: an :explain round scores thousands of
// masked rows, more than Triton's max_batch_size (manifest maxBatchSize, at most 1024) and InvokeEndpoint's
// payload allow, so the round's one batch is sent as invocations of at most `maxRows` rows, a few at a time,
// and put back together in order as one BatchPrediction.
import pMap from 'p-map';
import type { BatchPrediction } from '../models/inference-session';

/** One endpoint call: rows in, scores out. */
export type RowPredict = (rows: Float32Array, count: number) => Promise<BatchPrediction>;

/** Invocations of one round in flight at once: enough to hide the round trip, few enough not to throttle the endpoint. */
export const ROUND_CONCURRENCY = 4;

export function batchedPredict(predict: RowPredict, featureCount: number, maxRows: number, concurrency = ROUND_CONCURRENCY): RowPredict {
  if (!Number.isSafeInteger(maxRows) || maxRows < 1) throw new RangeError(`maxRows must be a positive integer, received ${maxRows}`);
  return async (rows, count) => {
    if (count <= maxRows) return predict(rows, count);
    const firsts = Array.from({ length: Math.ceil(count / maxRows) }, (_, chunk) => chunk * maxRows);
    // In the order of the rows, whichever invocation answers first.
    const parts = await pMap(
      firsts,
      (first) => {
        const n = Math.min(maxRows, count - first);
        return predict(rows.subarray(first * featureCount, (first + n) * featureCount), n);
      },
      { concurrency },
    );
    const width = parts[0]!.width;
    const scores = new Float32Array(count * width);
    const classIndex = new Int32Array(parts[0]!.classIndex.length === 0 ? 0 : count);
    let at = 0;
    for (const part of parts) {
      if (part.width !== width) throw new Error(`the endpoint answered ${part.width} scores per row in one invocation and ${width} in another`);
      scores.set(part.scores, at * width);
      if (classIndex.length > 0) classIndex.set(part.classIndex, at);
      at += part.count;
    }
    return { count, scores, width, classIndex };
  };
}
