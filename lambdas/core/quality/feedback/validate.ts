// Validation of ground-truth labels against the model they are for (issue 17.2), shared by the feedback API
// (the cloud function and the local gateway), `mlship feedback` and the label files the joiner reads. A request
// is all or nothing: the first bad item is a 400 naming its index and field
// ("feedback[3].label: 'benin' is not a class of breast-cancer (benign, malignant)"), and none of its items is
// kept. Two items of one request for the same (id, index) keep the first; the second counts as a duplicate.
import { z } from 'zod';
import type { ModelCard } from '../../models/model-card';
import { BadRequestError } from '../../serving/errors';
import { INFERENCE_ID_PATTERN, MAX_FEEDBACK_ITEMS, MAX_INFERENCE_ID_CHARS, type LabelRecord } from '../contracts';

/** What checking a label needs of its model: the card's name, task and classes, and the most instances a request may have. */
export interface FeedbackTarget {
  readonly model: string;
  readonly task: ModelCard['task'];
  /** Classifiers: the classes a label may name; empty for a regressor. */
  readonly labels: readonly string[];
  /** Most instances in one prediction request (the manifest's maxBatchSize): an index must be below it. @default - any index */
  readonly maxBatchSize?: number;
}

/** The target of a model's card (and its manifest entry's maxBatchSize, when known). */
export function feedbackTargetOf(card: Pick<ModelCard, 'name' | 'task' | 'labels'>, maxBatchSize?: number): FeedbackTarget {
  return { model: card.name, task: card.task, labels: card.labels, ...(maxBatchSize === undefined ? {} : { maxBatchSize }) };
}

/** The label's fields before they are checked against the model. */
export interface LabelFields {
  readonly id: string;
  readonly index: number;
  readonly label?: string;
  readonly value?: number;
}

const shown = (text: string) => `'${text.length > 60 ? `${text.slice(0, 57)}...` : text}'`;

/**
 * What is wrong with a label for `target`, as `field: reason` (the caller puts the item or row before it), or
 * undefined when it is right.
 */
export function labelProblem(fields: LabelFields, target: FeedbackTarget): string | undefined {
  const { id, index } = fields;
  if (id.length > MAX_INFERENCE_ID_CHARS) return `id: has ${id.length} characters, at most ${MAX_INFERENCE_ID_CHARS}`;
  if (!INFERENCE_ID_PATTERN.test(id)) return `id: ${shown(id)} must be 1 to ${MAX_INFERENCE_ID_CHARS} visible ASCII characters (no space or control character), as the x-inference-id of the prediction`;
  if (!(Number.isSafeInteger(index) && index >= 0)) return `index: ${index} is not a whole number, 0 or more`;
  if (target.maxBatchSize !== undefined && index >= target.maxBatchSize) {
    return `index: ${index} is past the last instance a request of ${target.model} can have (maxBatchSize ${target.maxBatchSize}, so at most ${target.maxBatchSize - 1})`;
  }
  if (target.task === 'regression') {
    if (fields.label !== undefined) return `label: ${target.model} is a regressor; send its true value as 'value', not 'label'`;
    if (fields.value === undefined) return `value: is missing; ${target.model} is a regressor, send the true value as a number`;
    if (!Number.isFinite(fields.value)) return `value: ${fields.value} is not a finite number`;
    return undefined;
  }
  if (fields.value !== undefined) return `value: ${target.model} is a classifier; send the true class as 'label', not 'value'`;
  if (fields.label === undefined) return `label: is missing; send the true class of ${target.model} (${target.labels.join(', ')})`;
  if (!target.labels.includes(fields.label)) return `label: ${shown(fields.label)} is not a class of ${target.model} (${target.labels.join(', ')})`;
  return undefined;
}

/** The key of one labelled instance within a model: ids hold no space, so `<id> <index>` is unambiguous. */
export function instanceKey(id: string, index: number): string {
  return `${id} ${index}`;
}

const itemSchema = z.strictObject({
  id: z.string(),
  index: z.number().optional(),
  label: z.string().optional(),
  value: z.number().optional(),
});

const FIELDS = 'id, index, label or value';

/** One zod issue of an item as `field: reason`. */
function issueText(issue: z.core.$ZodIssue, item: unknown): string {
  if (issue.code === 'unrecognized_keys') return `${issue.keys[0]}: is not a field of a feedback item (${FIELDS})`;
  const field = String(issue.path[0] ?? '');
  const received = (item as Record<string, unknown>)[field];
  if (issue.code === 'invalid_type') {
    if (received === undefined) return `${field}: is missing`;
    const kind = received === null ? 'null' : Array.isArray(received) ? 'an array' : typeof received;
    return `${field}: must be ${issue.expected === 'number' ? 'a number' : `a ${issue.expected}`}, received ${kind}`;
  }
  return `${field}: ${issue.message}`;
}

export interface ParsedFeedback {
  /** The labels to keep, in request order, each (id, index) once (the first of the request). */
  readonly labels: LabelRecord[];
  /** Items naming an (id, index) an earlier item of the same request already named. */
  readonly duplicates: number;
}

/**
 * Checks a parsed request body `{"feedback": [{"id", "index"?, "label" | "value"}]}` against `target` and turns
 * it into label records received at `receivedAt`. Throws BadRequestError naming the first bad item and field.
 */
export function parseFeedback(body: unknown, target: FeedbackTarget, receivedAt: Date): ParsedFeedback {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequestError(`the body must be a JSON object {"feedback": [{"id": ..., "index": ..., "${target.task === 'regression' ? 'value' : 'label'}": ...}]}`);
  }
  const extra = Object.keys(body).find((key) => key !== 'feedback');
  if (extra !== undefined) throw new BadRequestError(`${shown(extra)}: is not a field of the body; send only 'feedback', an array of items`);
  const items = (body as { feedback?: unknown }).feedback;
  if (!Array.isArray(items)) throw new BadRequestError(`feedback: ${items === undefined ? 'is missing' : 'must be an array'}; send {"feedback": [{"id": ..., "index": ..., "${target.task === 'regression' ? 'value' : 'label'}": ...}]}`);
  if (items.length === 0) throw new BadRequestError('feedback: is empty; send 1 to 1000 items');
  if (items.length > MAX_FEEDBACK_ITEMS) throw new BadRequestError(`feedback: has ${items.length} items, at most ${MAX_FEEDBACK_ITEMS} in one request; send the rest in another`);
  const time = receivedAt.toISOString();
  const labels: LabelRecord[] = [];
  const seen = new Set<string>();
  let duplicates = 0;
  items.forEach((item, i) => {
    const parsed = itemSchema.safeParse(item);
    if (!parsed.success) {
      const what = typeof item !== 'object' || item === null || Array.isArray(item) ? `must be an object {${FIELDS}}` : issueText(parsed.error.issues[0]!, item);
      throw new BadRequestError(`feedback[${i}]${what.startsWith('must') ? ': ' : '.'}${what}`);
    }
    const { id, index = 0, label, value } = parsed.data;
    const fields: LabelFields = { id, index, ...(label === undefined ? {} : { label }), ...(value === undefined ? {} : { value }) };
    const problem = labelProblem(fields, target);
    if (problem !== undefined) throw new BadRequestError(`feedback[${i}].${problem}`);
    const key = instanceKey(id, index);
    if (seen.has(key)) {
      duplicates++;
      return;
    }
    seen.add(key);
    labels.push({ ...fields, time });
  });
  return { labels, duplicates };
}

/** One label as its JSONL line (without the newline): the fields in a fixed order. */
export function labelLine(record: LabelRecord): string {
  const truth = record.label !== undefined ? `"label":${JSON.stringify(record.label)}` : `"value":${JSON.stringify(record.value)}`;
  return `{"id":${JSON.stringify(record.id)},"index":${record.index},${truth},"time":"${record.time}"}`;
}
