// mlship feedback: the real executable on a temp state folder with the shipped manifest (breast-cancer), a CSV with
// good, duplicate and bad rows: the counts, the reasons with their line numbers, exit code 1 for rejected rows, the
// good labels in the state folder's ground-truth files; run again, every good row is a duplicate; --json; a JSONL
// file; and a manifest without the model.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runMlship } from '../fixtures/run-mlship';
import { tempDirMaker } from '../fixtures/temp-dirs';

const tempDir = tempDirMaker('mlship-feedback-cli-');

const mlship = runMlship;

function labelLines(stateDir: string): { id: string; index: number; label: string }[] {
  const root = join(stateDir, 'capture', 'ground-truth', 'breast-cancer');
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .flatMap((e) => readFileSync(join(e.parentPath, e.name), 'utf8').trim().split('\n'))
    .map((l) => JSON.parse(l) as { id: string; index: number; label: string });
}

describe('mlship feedback (the real executable)', () => {
  it('stores the good rows, counts duplicates, lists the rejected rows with their lines, and exits 1', async () => {
    const work = tempDir();
    const stateDir = join(work, 'state');
    const csv = join(work, 'labels.csv');
    writeFileSync(csv, ['id,index,label', 'a,0,benign', 'a,1,malignant', 'b,,benign', 'a,0,malignant', 'c,0,benin', 'd,-1,benign', 'e,0,benign'].join('\n'));
    const first = await mlship(['feedback', '--model', 'breast-cancer', '--file', csv, '--state-dir', stateDir]);
    assert.equal(first.code, 1, first.stderr);
    assert.deepEqual(first.stdout.trim().split('\n'), [
      `breast-cancer: 4 labels accepted, 1 duplicates, 2 rows rejected, of 7 rows in ${csv}`,
      'rejected rows:',
      "  line 6: label: 'benin' is not a class of breast-cancer (malignant, benign)",
      "  line 7: index: '-1' is not a whole number, 0 or more",
    ]);
    assert.deepEqual(labelLines(stateDir).map((l) => `${l.id}/${l.index}=${l.label}`).sort(), ['a/0=benign', 'a/1=malignant', 'b/0=benign', 'e/0=benign']);

    const again = await mlship(['feedback', '--model', 'breast-cancer', '--file', csv, '--state-dir', stateDir, '--json']);
    assert.equal(again.code, 1);
    const result = JSON.parse(again.stdout) as Record<string, unknown>;
    assert.deepEqual(
      { accepted: result.accepted, duplicates: result.duplicates, rejected: result.rejected, rows: result.rows },
      { accepted: 0, duplicates: 5, rejected: 2, rows: 7 },
      'after the first run every good row is a duplicate: the index was rebuilt from the files',
    );
    assert.deepEqual(result.rejectedRows, [
      { line: 6, reason: "label: 'benin' is not a class of breast-cancer (malignant, benign)" },
      { line: 7, reason: "index: '-1' is not a whole number, 0 or more" },
    ]);
    assert.equal(labelLines(stateDir).length, 4, 'nothing written twice');
  });

  it('takes a JSONL file of label records and exits 0 when every row is good', async () => {
    const work = tempDir();
    const file = join(work, 'labels.jsonl');
    writeFileSync(file, '{"id":"x","label":"malignant","time":"2026-12-01T00:00:00Z"}\n{"id":"y","index":2,"label":"benign"}\n');
    const run = await mlship(['feedback', '--model', 'breast-cancer', '--file', file, '--state-dir', join(work, 'state')]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^breast-cancer: 2 labels accepted, 0 duplicates, 0 rows rejected, of 2 rows in /);
    const lines = labelLines(join(work, 'state'));
    assert.deepEqual(lines.map((l) => [l.id, (l as unknown as { time: string }).time.startsWith('2026-12-01T00:00:00') || l.id === 'y']), [['x', true], ['y', true]]);
  });

  it('says which models the manifest has when the model is not one of them', async () => {
    const run = await mlship(['feedback', '--model', 'iris', '--file', 'x.csv', '--state-dir', tempDir()]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^error: no model 'iris' in .*manifest\.yaml; its models are breast-cancer, digits\n$/);
  });
});
