// The local label store and the feedback route over it, on a real temp state folder: labels are on disk (in the
// ground-truth key layout) when the 202 comes, a label sent twice (in one request, across requests, at the same
// time, after a restart) is written once and counted as a duplicate, labels for ids never predicted are kept, a
// bad request stores nothing, a failed write is a 500 after which the same labels can be sent again, and files
// roll by size.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import type { FeedbackTarget } from '../../../lambdas/core/quality/feedback/validate';
import { handleFeedback } from '../../../local/quality/feedback-route';
import { LabelStore } from '../../../local/quality/label-store';
import { tempDirMaker } from '../../fixtures/temp-dirs';

const tempDir = tempDirMaker('mlship-labels-');
const classifier: FeedbackTarget = { model: 'breast-cancer', task: 'binary', labels: ['malignant', 'benign'], maxBatchSize: 1000 };
const regressor: FeedbackTarget = { model: 'prices', task: 'regression', labels: [] };
const at = new Date('2026-12-08T10:15:00.000Z');
const LIMIT = { maxBodyBytes: 6 * 1024 * 1024 };

/** Every file under a folder, relative path -> its lines. */
function filesUnder(folder: string): Record<string, string[]> {
  if (!existsSync(folder)) return {};
  const out: Record<string, string[]> = {};
  for (const entry of readdirSync(folder, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out[relative(folder, path)] = readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
  }
  return out;
}

function post(body: unknown, contentType = 'application/json') {
  return { method: 'POST', contentType, body: typeof body === 'string' ? body : JSON.stringify(body) };
}

describe('handleFeedback over the local label store', () => {
  it('answers 202 with the counts once the lines are in the hour file, and keeps labels for ids never predicted', async () => {
    const folder = tempDir();
    const { store, stats } = await LabelStore.open(folder, [classifier, regressor]);
    assert.deepEqual(stats, { files: 0, labels: 0, rejected: 0 });
    const answer = await handleFeedback(classifier, store, post({ feedback: [{ id: 'never-predicted', label: 'benign' }, { id: 'r2', index: 1, label: 'malignant' }, { id: 'r2', index: 1, label: 'benign' }] }), { ...LIMIT, receivedAt: at });
    // Read at once, synchronously, after the answer: the lines are there already.
    const files = filesUnder(folder);
    assert.equal(answer.statusCode, 202);
    assert.deepEqual(JSON.parse(answer.body), { accepted: 2, duplicates: 1 });
    assert.deepEqual(answer.headers, { 'content-type': 'application/json', 'x-model-name': 'breast-cancer' });
    assert.deepEqual(files, {
      [`ground-truth/breast-cancer/2026/12/08/10/${LabelStore.fileName(0)}`]: [
        '{"id":"never-predicted","index":0,"label":"benign","time":"2026-12-08T10:15:00.000Z"}',
        '{"id":"r2","index":1,"label":"malignant","time":"2026-12-08T10:15:00.000Z"}',
      ],
    });
    await store.close();
  });

  it('stores nothing of a request with one bad item, and answers 400 naming it', async () => {
    const folder = tempDir();
    const { store } = await LabelStore.open(folder, [classifier]);
    const answer = await handleFeedback(classifier, store, post({ feedback: [{ id: 'a', label: 'benign' }, { id: 'b', label: 'benin' }] }), LIMIT);
    assert.equal(answer.statusCode, 400);
    assert.deepEqual(JSON.parse(answer.body), { error: { code: 'invalid_request', message: "feedback[1].label: 'benin' is not a class of breast-cancer (malignant, benign)" } });
    assert.deepEqual(filesUnder(folder), {});
    assert.equal(store.has('breast-cancer', 'a', 0), false);
    await store.close();
  });

  it('answers 415, 413, 400 for malformed JSON and 405, as the model routes do', async () => {
    const { store } = await LabelStore.open(tempDir(), [classifier]);
    const cases: [ReturnType<typeof post>, number, string][] = [
      [post({ feedback: [] }, 'text/csv'), 415, 'unsupported_media_type'],
      [post(`{"feedback":[${'{"id":"a","label":"benign"},'.repeat(40)}{"id":"b","label":"benign"}]}`), 413, 'payload_too_large'],
      [post('{"feedback": ['), 400, 'invalid_json'],
      [post(''), 400, 'invalid_json'],
      [{ method: 'PUT', contentType: 'application/json', body: '{}' }, 405, 'method_not_allowed'],
    ];
    for (const [request, status, code] of cases) {
      const answer = await handleFeedback(classifier, store, request, { maxBodyBytes: 1000 });
      assert.equal(answer.statusCode, status, answer.body);
      assert.equal((JSON.parse(answer.body) as { error: { code: string } }).error.code, code);
    }
    await store.close();
  });

  it('counts a label sent again later, or twice at the same time, as a duplicate and writes it once', async () => {
    const folder = tempDir();
    const { store } = await LabelStore.open(folder, [classifier]);
    const body = post({ feedback: [{ id: 'x', label: 'benign' }, { id: 'y', label: 'benign' }] });
    const [first, second] = await Promise.all([handleFeedback(classifier, store, body, { ...LIMIT, receivedAt: at }), handleFeedback(classifier, store, body, { ...LIMIT, receivedAt: at })]);
    assert.deepEqual([JSON.parse(first.body), JSON.parse(second.body)], [{ accepted: 2, duplicates: 0 }, { accepted: 0, duplicates: 2 }]);
    const later = await handleFeedback(classifier, store, post({ feedback: [{ id: 'y', label: 'malignant' }, { id: 'z', label: 'malignant' }] }), { ...LIMIT, receivedAt: at });
    assert.deepEqual(JSON.parse(later.body), { accepted: 1, duplicates: 1 });
    const lines = Object.values(filesUnder(folder)).flat().map((l) => JSON.parse(l) as { id: string; label: string });
    assert.deepEqual(lines.map((l) => `${l.id}=${l.label}`), ['x=benign', 'y=benign', 'z=malignant'], 'the first label of y is kept, the later one replaces nothing');
    await store.close();
  });

  it('rebuilds the index from the files at start: labels sent before a restart are duplicates after it', async () => {
    const folder = tempDir();
    const { store } = await LabelStore.open(folder, [classifier, regressor]);
    await store.store('breast-cancer', [{ id: 'a', index: 0, label: 'benign', time: at.toISOString() }, { id: 'a', index: 1, label: 'benign', time: at.toISOString() }], at);
    await store.store('prices', [{ id: 'a', index: 0, value: 3.5, time: at.toISOString() }], new Date('2026-12-08T11:00:00Z'));
    await store.close();
    // A bulk file another system dropped, with one bad row, is indexed too.
    mkdirSync(join(folder, 'ground-truth/breast-cancer/2026/12/07/23'), { recursive: true });
    writeFileSync(join(folder, 'ground-truth/breast-cancer/2026/12/07/23/crm.csv'), 'id,index,label\nb,0,malignant\nc,0,unknown\n');
    const rejected: string[] = [];
    const reopened = await LabelStore.open(folder, [classifier, regressor], { onRejected: (key, line, reason) => rejected.push(`${key}:${line}: ${reason}`) });
    assert.deepEqual(reopened.stats, { files: 3, labels: 4, rejected: 1 });
    assert.deepEqual(rejected, ["ground-truth/breast-cancer/2026/12/07/23/crm.csv:3: label: 'unknown' is not a class of breast-cancer (malignant, benign)"]);
    assert.deepEqual(await reopened.store.store('breast-cancer', [
      { id: 'a', index: 1, label: 'malignant', time: at.toISOString() },
      { id: 'b', index: 0, label: 'benign', time: at.toISOString() },
      { id: 'a', index: 2, label: 'benign', time: at.toISOString() },
    ], at), { duplicates: 2 });
    assert.deepEqual(await reopened.store.store('prices', [{ id: 'a', index: 0, value: 1, time: at.toISOString() }], at), { duplicates: 1 });
    assert.deepEqual(reopened.store.counts(), { 'breast-cancer': 4, prices: 1 });
    // The new process never appends to the earlier files: its lines go to a file of its own.
    const hour = filesUnder(join(folder, 'ground-truth/breast-cancer/2026/12/08/10'));
    assert.deepEqual(Object.keys(hour).sort(), [LabelStore.fileName(0), LabelStore.fileName(1)]);
    assert.deepEqual(hour[LabelStore.fileName(1)]!.map((l) => (JSON.parse(l) as { id: string; index: number }).index), [2]);
    await reopened.store.close();
  });

  it('answers 500 when the labels cannot be written, and takes the same labels when they are sent again', async () => {
    const folder = tempDir();
    const { store } = await LabelStore.open(folder, [classifier]);
    // A file where the model's folder should be: mkdir fails.
    mkdirSync(join(folder, 'ground-truth'), { recursive: true });
    writeFileSync(join(folder, 'ground-truth', 'breast-cancer'), 'in the way');
    const errors: unknown[] = [];
    const body = post({ feedback: [{ id: 'a', label: 'benign' }] });
    const failed = await handleFeedback(classifier, store, body, { ...LIMIT, receivedAt: at, onError: (e) => errors.push(e) });
    assert.equal(failed.statusCode, 500);
    assert.deepEqual(JSON.parse(failed.body), { error: { code: 'internal_error', message: 'the server failed to answer; the failure was logged' } });
    assert.equal(errors.length, 1);
    assert.equal(store.has('breast-cancer', 'a', 0), false);
    rmSync(join(folder, 'ground-truth', 'breast-cancer'));
    const retried = await handleFeedback(classifier, store, body, { ...LIMIT, receivedAt: at });
    assert.deepEqual([retried.statusCode, JSON.parse(retried.body)], [202, { accepted: 1, duplicates: 0 }]);
    await store.close();
  });

  it('rolls to the next file past maxFileBytes, and to a new file each hour', async () => {
    const folder = tempDir();
    const { store } = await LabelStore.open(folder, [classifier], { maxFileBytes: 200 });
    const labels = Array.from({ length: 7 }, (_, i) => ({ id: `r${i}`, index: 0, label: 'benign', time: at.toISOString() }));
    await store.store('breast-cancer', labels, at);
    await store.store('breast-cancer', [{ id: 'next-hour', index: 0, label: 'benign', time: '2026-12-08T11:00:01.000Z' }], new Date('2026-12-08T11:00:01.000Z'));
    const files = filesUnder(folder);
    const sizes = Object.entries(files).map(([key, lines]) => [key.replace(/local-\d+-/, 'local-'), lines.length]);
    assert.deepEqual(sizes.sort(), [
      ['ground-truth/breast-cancer/2026/12/08/10/local-0000.jsonl', 2],
      ['ground-truth/breast-cancer/2026/12/08/10/local-0001.jsonl', 2],
      ['ground-truth/breast-cancer/2026/12/08/10/local-0002.jsonl', 2],
      ['ground-truth/breast-cancer/2026/12/08/10/local-0003.jsonl', 1],
      ['ground-truth/breast-cancer/2026/12/08/11/local-0000.jsonl', 1],
    ]);
    for (const [key, lines] of Object.entries(files)) assert.ok(lines.join('\n').length + lines.length <= 200, key);
    await store.close();
  });
});
