// Explanations per second (issue 19): breast-cancer's exact linear SHAP and digits' permutation SHAP at the
// manifest's default budget, one row and a request of explain.maxInstances rows, each against one raw
// session.run of one row on a prebuilt tensor (the cost of one prediction), interleaved in the same run.
// Run alone: node --import tsx bench/explain/explain.ts [--quick]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ort from 'onnxruntime-node';
import type { Row } from '../run';
import { readCsvFile, toNumericTable } from '../../lambdas/core/common/csv';
import { readBackground, sampleBackground } from '../../lambdas/core/explain/background';
import { DEFAULT_MAX_EVALUATIONS, Explainer, MAX_ROWS_PER_RUN } from '../../lambdas/core/explain/explainer';
import { ServedModel } from '../../lambdas/core/models/inference-session';
import { DEFAULT_EXPLAIN_LIMITS } from '../../lambdas/core/serving/explain-limits';

const root = join(import.meta.dirname, '..', '..', 'models');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Subject {
  readonly name: string;
  readonly data: string;
  readonly label: string;
  /** What one explanation should cost at most, in predictions (linear) or milliseconds (sampling). */
  readonly target: { readonly ratioBelow?: number; readonly msBelow?: number };
}

const SUBJECTS: readonly Subject[] = [
  // Exact linear SHAP reads the weights: it should cost less than running the model once.
  { name: 'breast-cancer', data: 'breast_cancer.csv', label: 'diagnosis', target: { ratioBelow: 1 } },
  // Permutation SHAP at the default budget: well inside the default 5 s deadline, so answers come back complete.
  { name: 'digits', data: 'digits.csv.gz', label: 'digit', target: { msBelow: 1000 } },
];

async function measure(subject: Subject, quick: boolean): Promise<Row[]> {
  const dir = join(root, subject.name, '1');
  const model = await ServedModel.load(dir);
  const card = model.card;
  const p = card.input.features.length;
  const bytes = readFileSync(join(dir, 'model.onnx'));
  const table = toNumericTable(readCsvFile(join(root, subject.name, 'data', subject.data)), subject.label);
  const all = Float32Array.from(table.x.data);
  const background = readBackground(dir, card) ?? sampleBackground(all, table.x.rows, p, 19);
  const explainer = Explainer.create({ card, background, predict: (rows, count) => model.predict(rows, count), onnx: bytes });
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', logSeverityLevel: 4 });
  const many = DEFAULT_EXPLAIN_LIMITS.maxInstances;
  const rows = Array.from({ length: 64 }, (_, i) => all.slice(((i * 7) % table.x.rows) * p, (((i * 7) % table.x.rows) + 1) * p));
  const request = new Float32Array(many * p);
  for (let i = 0; i < many; i++) request.set(rows[i]!, i * p);

  const rounds = quick ? 3 : 7;
  const runs = subject.name === 'digits' ? (quick ? 4 : 10) : 2000;
  const runTimes: number[] = [];
  const oneTimes: number[] = [];
  const manyTimes: number[] = [];
  let worstRelativeSe = 0;
  for (let round = 0; round < rounds; round++) {
    // One prediction: session.run of one row on a prebuilt tensor.
    const tensors = rows.map((r) => new ort.Tensor('float32', r, [1, p]));
    let started = performance.now();
    for (let i = 0; i < 2000; i++) await session.run({ [card.input.tensorName]: tensors[i % tensors.length]! });
    runTimes.push((performance.now() - started) / 2000);

    started = performance.now();
    for (let i = 0; i < runs; i++) {
      const [e] = await explainer.explain(rows[i % rows.length]!, 1, { maxEvaluations: DEFAULT_MAX_EVALUATIONS });
      if (!e || e.additivityError > 1e-6 || !e.complete) throw new Error(`${subject.name}: an incomplete or non-additive explanation`);
      if (e.standardError) {
        const total = e.attributions.reduce((a, b) => a + Math.abs(b), 0);
        worstRelativeSe = Math.max(worstRelativeSe, Math.max(...e.standardError) / total);
      }
    }
    oneTimes.push((performance.now() - started) / runs);

    const manyRuns = Math.max(1, Math.floor(runs / many));
    started = performance.now();
    for (let i = 0; i < manyRuns; i++) await explainer.explain(request, many, { maxEvaluations: DEFAULT_MAX_EVALUATIONS });
    manyTimes.push((performance.now() - started) / manyRuns);
  }
  await session.release();
  await model.release();
  const run = median(runTimes);
  const one = median(oneTimes);
  const batch = median(manyTimes);
  const perSecond = (ms: number) => (1000 / ms).toFixed(ms < 1 ? 0 : 1);
  const method = explainer.method === 'linear' ? 'exact linear SHAP' : `permutation SHAP, ${DEFAULT_MAX_EVALUATIONS} rows per explanation, ${background.length / p} background rows`;
  const target = subject.target;
  const judged = (ms: number) => (target.ratioBelow !== undefined ? ms / run < target.ratioBelow : ms < target.msBelow!);
  const targetText = target.ratioBelow !== undefined ? `< ${target.ratioBelow} prediction` : `< ${target.msBelow} ms an explanation`;
  const out: Row[] = [
    {
      figure: `:explain core, ${subject.name} (${method}): 1 row`,
      value: `${perSecond(one)} explanations/s (${one < 1 ? `${(one * 1000).toFixed(1)} µs` : `${one.toFixed(1)} ms`} each)`,
      baseline: `${(run * 1000).toFixed(1)} µs session.run of 1 row`,
      ratio: one / run,
      target: targetText,
      ok: judged(one),
    },
    {
      figure: `:explain core, ${subject.name}: ${many} rows per request (each round of all of them scored together, in runs of at most ${MAX_ROWS_PER_RUN} rows)`,
      value: `${perSecond(batch / many)} explanations/s (${batch < 1 ? `${(batch * 1000).toFixed(1)} µs` : `${batch.toFixed(1)} ms`} a request)`,
      baseline: `${(run * 1000).toFixed(1)} µs session.run of 1 row`,
      ratio: batch / many / run,
      target: targetText,
      ok: judged(batch / many),
    },
  ];
  if (explainer.method === 'permutation') {
    out.push({ figure: `:explain, ${subject.name}: largest standard error at the default budget, over the sum of absolute attributions`, value: `${(worstRelativeSe * 100).toFixed(2)} %`, baseline: '-', ratio: worstRelativeSe, target: '-', ok: undefined });
  }
  return out;
}

export async function explainBench(options: { readonly quick?: boolean } = {}): Promise<Row[]> {
  const rows: Row[] = [];
  for (const subject of SUBJECTS) rows.push(...(await measure(subject, options.quick ?? false)));
  return rows;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const row of await explainBench({ quick: process.argv.includes('--quick') })) console.log(JSON.stringify(row));
}
