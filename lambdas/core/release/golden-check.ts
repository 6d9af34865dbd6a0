// The golden-prediction check: a new model version must reproduce the golden cases of its model card
// (model.json) before it gets any traffic. Used by the cloud pre-traffic hook (over the v1 HTTP answer of
// the new Lambda version) and by the local release controller (on the ONNX session directly).
import type { ServedModel } from '../models/inference-session';
import type { GoldenCase, ModelCard } from '../models/model-card';

/** One answer to one golden input: label and probabilities (in card.labels order), or a regression value. */
export interface GoldenAnswer {
  readonly label?: string;
  readonly probabilities?: readonly number[];
  readonly value?: number;
}

export interface GoldenCaseResult {
  /** Position of the case in card.golden. */
  readonly index: number;
  readonly ok: boolean;
  /** What is wrong with this case, when it is not ok. */
  readonly problem?: string;
  /**
   * Largest absolute difference between a probability (or the value) and the expected one; Infinity when
   * the case could not be compared (no answer, wrong number of probabilities, predict failed).
   */
  readonly maxDifference: number;
}

export interface GoldenCheckResult {
  readonly passed: boolean;
  readonly cases: readonly GoldenCaseResult[];
  /** One line for a log, an alert or a CodeDeploy hook: the model, version and the first failing case. */
  readonly message: string;
}

export type GoldenPredict = (inputs: readonly (readonly number[])[]) => Promise<readonly GoldenAnswer[]>;

/** The model and version as people name them: `breast-cancer v2`. */
function modelTitle(card: ModelCard): string {
  return `${card.name} v${card.version}`;
}

/** Enough decimals to show a difference at the tolerance's scale: 5 for 1e-4, at least 4. */
function formatter(tolerance: number): (value: number) => string {
  if (!(tolerance > 0)) return (value) => String(value);
  const decimals = Math.min(12, Math.max(4, Math.ceil(-Math.log10(tolerance)) + 1));
  return (value) => (Number.isFinite(value) ? value.toFixed(decimals) : String(value));
}

function failed(index: number, problem: string, maxDifference = Number.POSITIVE_INFINITY): GoldenCaseResult {
  return { index, ok: false, problem, maxDifference };
}

/**
 * Whether `got` may stand for `expected` although argmax picked another label: only when the expected
 * probabilities of the two labels are a tie within the tolerance (both within 2 x tolerance of each
 * other), so that float noise the tolerance allows could flip the argmax. Otherwise a different label
 * is a different answer, whatever the probabilities say.
 */
function tiedLabels(card: ModelCard, expected: readonly number[] | undefined, a: string, b: string, tolerance: number): boolean {
  if (!expected) return false;
  const pa = expected[card.labels.indexOf(a)];
  const pb = expected[card.labels.indexOf(b)];
  return pa !== undefined && pb !== undefined && Math.abs(pa - pb) <= 2 * tolerance;
}

function compareCase(card: ModelCard, golden: GoldenCase, index: number, answer: GoldenAnswer | undefined): GoldenCaseResult {
  const tolerance = card.goldenTolerance;
  const show = formatter(tolerance);
  const expected = golden.expected;
  if (answer === undefined) return failed(index, 'no answer for this case');

  if (card.task === 'regression') {
    if (expected.value === undefined) return failed(index, 'the model card gives no expected value for this regression case');
    if (typeof answer.value !== 'number') return failed(index, 'the answer has no value');
    const difference = Math.abs(answer.value - expected.value);
    // `!(d <= t)` so that a NaN answer fails too.
    if (!(difference <= tolerance)) return failed(index, `value is ${show(answer.value)}, expected ${show(expected.value)} (tolerance ${tolerance})`, Number.isNaN(difference) ? Number.POSITIVE_INFINITY : difference);
    return { index, ok: true, maxDifference: difference };
  }

  if (expected.label === undefined && expected.probabilities === undefined) {
    return failed(index, 'the model card gives neither an expected label nor expected probabilities for this case');
  }
  if (expected.probabilities !== undefined && expected.probabilities.length !== card.labels.length) {
    return failed(index, `the model card expects ${expected.probabilities.length} probabilities, but the model has ${card.labels.length} labels`);
  }
  const got = answer.probabilities;
  if (got === undefined) return failed(index, 'the answer has no probabilities');
  if (got.length !== card.labels.length) return failed(index, `the answer has ${got.length} probabilities, expected ${card.labels.length} (one per label: ${card.labels.join(', ')})`);

  let maxDifference = 0;
  let firstProblem: string | undefined;
  if (expected.probabilities !== undefined) {
    for (let j = 0; j < card.labels.length; j++) {
      const difference = Math.abs(got[j]! - expected.probabilities[j]!);
      if (difference <= tolerance) {
        maxDifference = Math.max(maxDifference, difference);
        continue;
      }
      maxDifference = Number.isNaN(difference) ? Number.POSITIVE_INFINITY : Math.max(maxDifference, difference);
      firstProblem ??= `probability of '${card.labels[j]}' is ${show(got[j]!)}, expected ${show(expected.probabilities[j]!)} (tolerance ${tolerance})`;
    }
  }
  if (expected.label !== undefined && answer.label !== expected.label && !(answer.label !== undefined && tiedLabels(card, expected.probabilities, answer.label, expected.label, tolerance))) {
    // A wrong label says more than a probability that is off: report it first.
    firstProblem = `label ${answer.label === undefined ? 'missing' : `'${answer.label}'`}, expected '${expected.label}'`;
  }
  return firstProblem === undefined ? { index, ok: true, maxDifference } : failed(index, firstProblem, maxDifference);
}

/**
 * Runs every golden case of `card` through `predict` (one call with all inputs, in card order) and
 * compares the answers with the expected ones within card.goldenTolerance.
 *
 * A card with no golden cases does NOT pass: the release gate exists so that no version reaches traffic
 * untested, and a version with nothing to compare cannot be tested. (`mlship import` without --baseline
 * writes such cards and says so; give it a baseline to make the version releasable.)
 */
export async function checkGoldenCases(card: ModelCard, predict: GoldenPredict): Promise<GoldenCheckResult> {
  const title = modelTitle(card);
  const goldens = card.golden;
  if (goldens.length === 0) {
    return { passed: false, cases: [], message: `${title} has no golden cases; a version cannot be checked before it gets traffic` };
  }

  let answers: readonly GoldenAnswer[];
  try {
    answers = await predict(goldens.map((g) => g.input));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const problem = `predicting the golden cases failed: ${reason}`;
    return { passed: false, cases: goldens.map((_, i) => failed(i, problem)), message: `${title} fails the golden check: ${problem}` };
  }

  const cases = goldens.map((golden, i) => compareCase(card, golden, i, answers[i]));
  const firstFailure = cases.find((c) => !c.ok);
  const countProblem = answers.length === goldens.length ? undefined : `${answers.length} answers came back for ${goldens.length} golden cases`;
  if (firstFailure) {
    const others = cases.filter((c) => !c.ok).length - 1;
    const more = others > 0 ? ` (and ${others} more failing case${others > 1 ? 's' : ''})` : '';
    const count = countProblem ? `; ${countProblem}` : '';
    return { passed: false, cases, message: `${title} fails golden case ${firstFailure.index}: ${firstFailure.problem}${more}${count}` };
  }
  if (countProblem) return { passed: false, cases, message: `${title} fails the golden check: ${countProblem}` };

  const largest = Math.max(...cases.map((c) => c.maxDifference));
  return {
    passed: true,
    cases,
    message: `${title} reproduces all ${goldens.length} golden case${goldens.length > 1 ? 's' : ''} (largest difference ${largest.toExponential(2)}, tolerance ${card.goldenTolerance})`,
  };
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'string') return `the string '${value.length > 40 ? `${value.slice(0, 37)}...` : value}'`;
  return typeof value === 'object' ? 'an object' : String(value);
}

/**
 * Parses a v1 answer, `{"predictions":[{"label","probabilities":{label: p}} | {"value"}]}`, into
 * GoldenAnswers with the probabilities in card.labels order. Throws an Error naming the field at fault
 * when the answer is not of that form (a JSON null value, how the API writes a non-finite result, is NaN).
 */
export function answersFromV1(body: string, card: ModelCard): GoldenAnswer[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (error) {
    throw new Error(`the v1 answer is not JSON: ${(error as Error).message.slice(0, 200)}; it begins ${JSON.stringify(body.slice(0, 80))}`);
  }
  const predictions = typeof parsed === 'object' && parsed !== null ? (parsed as { predictions?: unknown }).predictions : undefined;
  if (!Array.isArray(predictions)) throw new Error(`the v1 answer must be an object with a 'predictions' array, received ${describe(predictions ?? parsed)}`);

  return predictions.map((raw: unknown, i): GoldenAnswer => {
    const field = `predictions[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${field} must be an object, received ${describe(raw)}`);
    const prediction = raw as Record<string, unknown>;
    if (card.task === 'regression') {
      const value = prediction.value;
      if (value === null) return { value: Number.NaN };
      if (typeof value !== 'number') throw new Error(`${field}.value must be a number, received ${describe(value)}`);
      return { value };
    }
    const { label, probabilities } = prediction;
    if (typeof label !== 'string') throw new Error(`${field}.label must be a string, received ${describe(label)}`);
    if (typeof probabilities !== 'object' || probabilities === null || Array.isArray(probabilities)) {
      throw new Error(`${field}.probabilities must be an object keyed by label, received ${describe(probabilities)}`);
    }
    const byLabel = probabilities as Record<string, unknown>;
    const unknown = Object.keys(byLabel).find((key) => !card.labels.includes(key));
    if (unknown !== undefined) throw new Error(`${field}.probabilities has label '${unknown.slice(0, 100)}', which is not one of ${card.labels.join(', ')}`);
    return {
      label,
      probabilities: card.labels.map((name) => {
        const p = byLabel[name];
        if (p === null) return Number.NaN;
        if (typeof p !== 'number') throw new Error(`${field}.probabilities['${name}'] must be a number, received ${describe(p)}`);
        return p;
      }),
    };
  });
}

/** A predict function for checkGoldenCases that runs the model's session directly (the local controller). */
export function goldenPredictFromModel(model: ServedModel): GoldenPredict {
  return async (inputs) => {
    const width = model.featureCount;
    const rows = new Float32Array(inputs.length * width);
    inputs.forEach((input, i) => {
      if (input.length !== width) throw new Error(`golden input ${i} has ${input.length} values, the model takes ${width}`);
      rows.set(input, i * width);
    });
    const prediction = await model.predict(rows, inputs.length);
    const { scores, width: columns, classIndex } = prediction;
    const labels = model.card.labels;
    return Array.from({ length: prediction.count }, (_, i): GoldenAnswer => {
      if (model.card.task === 'regression') return { value: scores[i * columns]! };
      return { label: labels[classIndex[i]!]!, probabilities: Array.from(scores.subarray(i * columns, (i + 1) * columns)) };
    });
  };
}
