// Feedback bodies checked against the model: good bodies become label records received at one time, each
// (id, index) once; every bad case is a 400 whose message names the item's index and its field.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_FEEDBACK_ITEMS } from '../../../../../lambdas/core/quality/contracts';
import { feedbackTargetOf, instanceKey, labelLine, parseFeedback, type FeedbackTarget } from '../../../../../lambdas/core/quality/feedback/validate';
import { BadRequestError } from '../../../../../lambdas/core/serving/errors';

const classifier: FeedbackTarget = { model: 'breast-cancer', task: 'binary', labels: ['malignant', 'benign'], maxBatchSize: 64 };
const regressor: FeedbackTarget = { model: 'house-prices', task: 'regression', labels: [] };
const at = new Date('2026-12-08T10:15:00.000Z');

function refused(body: unknown, target = classifier): string {
  try {
    parseFeedback(body, target, at);
  } catch (error) {
    assert.ok(error instanceof BadRequestError, String(error));
    assert.equal(error.status, 400);
    return error.message;
  }
  assert.fail(`accepted ${JSON.stringify(body).slice(0, 200)}`);
}

describe('parseFeedback', () => {
  it('turns a classifier body into label records received now, index 0 when left out', () => {
    const parsed = parseFeedback({ feedback: [{ id: 'req-1', label: 'benign' }, { id: 'req-2', index: 3, label: 'malignant' }] }, classifier, at);
    assert.deepEqual(parsed, {
      labels: [
        { id: 'req-1', index: 0, label: 'benign', time: '2026-12-08T10:15:00.000Z' },
        { id: 'req-2', index: 3, label: 'malignant', time: '2026-12-08T10:15:00.000Z' },
      ],
      duplicates: 0,
    });
  });

  it('takes a value for a regressor, negative and fractional included', () => {
    const parsed = parseFeedback({ feedback: [{ id: 'a', value: -12.5 }, { id: 'b', index: 1, value: 0 }] }, regressor, at);
    assert.deepEqual(parsed.labels.map((l) => [l.id, l.index, l.value]), [['a', 0, -12.5], ['b', 1, 0]]);
  });

  it('keeps the first label of an (id, index) named twice in one request and counts the rest as duplicates', () => {
    const parsed = parseFeedback({ feedback: [{ id: 'x', label: 'benign' }, { id: 'x', index: 0, label: 'malignant' }, { id: 'x', index: 1, label: 'malignant' }, { id: 'x', label: 'benign' }] }, classifier, at);
    assert.deepEqual(parsed.labels.map((l) => [l.index, l.label]), [[0, 'benign'], [1, 'malignant']]);
    assert.equal(parsed.duplicates, 2);
  });

  it('takes exactly MAX_FEEDBACK_ITEMS items and an id of 128 characters', () => {
    const items = Array.from({ length: MAX_FEEDBACK_ITEMS }, (_, i) => ({ id: `${'i'.repeat(120)}-${String(i).padStart(4, '0')}`.slice(-128), label: 'benign' }));
    assert.equal(items[0]!.id.length, 125);
    assert.equal(parseFeedback({ feedback: items }, classifier, at).labels.length, MAX_FEEDBACK_ITEMS);
    assert.equal(parseFeedback({ feedback: [{ id: 'z'.repeat(128), label: 'benign' }] }, classifier, at).labels[0]!.id.length, 128);
  });

  const cases: [string, unknown, string, FeedbackTarget?][] = [
    ['an unknown class', { feedback: [{ id: 'a', label: 'benign' }, { id: 'b', label: 'malignant' }, { id: 'c', label: 'benign' }, { id: 'd', label: 'benin' }] }, "feedback[3].label: 'benin' is not a class of breast-cancer (malignant, benign)"],
    ['a value that is not a number', { feedback: [{ id: 'a', value: '12' }] }, 'feedback[0].value: must be a number, received string', regressor],
    ['a value of null', { feedback: [{ id: 'a', value: 1 }, { id: 'b', value: null }] }, 'feedback[1].value: must be a number, received null', regressor],
    ['a value for a classifier', { feedback: [{ id: 'a', value: 1 }] }, "feedback[0].value: breast-cancer is a classifier; send the true class as 'label', not 'value'"],
    ['a label for a regressor', { feedback: [{ id: 'a', label: 'high' }] }, "feedback[0].label: house-prices is a regressor; send its true value as 'value', not 'label'", regressor],
    ['a missing label', { feedback: [{ id: 'a', index: 0 }] }, 'feedback[0].label: is missing; send the true class of breast-cancer (malignant, benign)'],
    ['a missing value', { feedback: [{ id: 'a' }] }, 'feedback[0].value: is missing; house-prices is a regressor, send the true value as a number', regressor],
    ['an id over 128 characters', { feedback: [{ id: 'a', label: 'benign' }, { id: 'x'.repeat(129), label: 'benign' }] }, 'feedback[1].id: has 129 characters, at most 128'],
    ['an id with a space', { feedback: [{ id: 'a b', label: 'benign' }] }, "feedback[0].id: 'a b' must be 1 to 128 visible ASCII characters (no space or control character), as the x-inference-id of the prediction"],
    ['an empty id', { feedback: [{ id: '', label: 'benign' }] }, "feedback[0].id: '' must be 1 to 128 visible ASCII characters"],
    ['a missing id', { feedback: [{ label: 'benign' }] }, 'feedback[0].id: is missing'],
    ['an id that is a number', { feedback: [{ id: 7, label: 'benign' }] }, 'feedback[0].id: must be a string, received number'],
    ['a negative index', { feedback: [{ id: 'a', index: -1, label: 'benign' }] }, 'feedback[0].index: -1 is not a whole number, 0 or more'],
    ['a fractional index', { feedback: [{ id: 'a', index: 1.5, label: 'benign' }] }, 'feedback[0].index: 1.5 is not a whole number, 0 or more'],
    ['an index past maxBatchSize', { feedback: [{ id: 'a', index: 64, label: 'benign' }] }, 'feedback[0].index: 64 is past the last instance a request of breast-cancer can have (maxBatchSize 64, so at most 63)'],
    ['an index that is a string', { feedback: [{ id: 'a', index: '0', label: 'benign' }] }, 'feedback[0].index: must be a number, received string'],
    ['an unknown field', { feedback: [{ id: 'a', label: 'benign', lable: 'benign' }] }, 'feedback[0].lable: is not a field of a feedback item (id, index, label or value)'],
    ['an item that is not an object', { feedback: [{ id: 'a', label: 'benign' }, 'b'] }, 'feedback[1]: must be an object {id, index, label or value}'],
    ['too many items', { feedback: Array.from({ length: MAX_FEEDBACK_ITEMS + 1 }, (_, i) => ({ id: `r${i}`, label: 'benign' })) }, 'feedback: has 1001 items, at most 1000 in one request'],
    ['no items', { feedback: [] }, 'feedback: is empty; send 1 to 1000 items'],
    ['feedback missing', { labels: [] }, "'labels': is not a field of the body; send only 'feedback'"],
    ['feedback not an array', { feedback: { id: 'a' } }, 'feedback: must be an array'],
    ['a body that is an array', [{ id: 'a', label: 'benign' }], 'the body must be a JSON object {"feedback": [{"id": ..., "index": ..., "label": ...}]}'],
  ];
  for (const [what, body, message, target] of cases) {
    it(`refuses ${what} with a 400 naming the item and field`, () => {
      assert.ok(refused(body, target).startsWith(message), refused(body, target));
    });
  }

  it('names the first bad item of a request with several', () => {
    assert.match(refused({ feedback: [{ id: 'a', label: 'benign' }, { id: 'b', index: -2, label: 'benign' }, { id: 'c', label: 'nope' }] }), /^feedback\[1\]\.index: /);
  });
});

describe('feedbackTargetOf, instanceKey and labelLine', () => {
  it('takes the card name, task and classes and the entry maxBatchSize', () => {
    assert.deepEqual(feedbackTargetOf({ name: 'digits', task: 'multiclass', labels: ['0', '1'] }, 8), { model: 'digits', task: 'multiclass', labels: ['0', '1'], maxBatchSize: 8 });
    assert.deepEqual(feedbackTargetOf({ name: 'digits', task: 'multiclass', labels: ['0', '1'] }), { model: 'digits', task: 'multiclass', labels: ['0', '1'] });
  });

  it('keys an instance unambiguously', () => {
    assert.equal(instanceKey('a1', 23), 'a1 23');
    assert.notEqual(instanceKey('a1', 23), instanceKey('a12', 3));
  });

  it('writes one JSON line per label that parses back to the record', () => {
    const records = [
      { id: 'q"u\\ote', index: 2, label: 'ben"ign', time: at.toISOString() },
      { id: 'r', index: 0, value: -0.125, time: at.toISOString() },
    ];
    for (const record of records) {
      const line = labelLine(record);
      assert.ok(!line.includes('\n'));
      assert.deepEqual(JSON.parse(line), record);
    }
  });
});
