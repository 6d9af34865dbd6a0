import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { CsvFormatError, parseCsv, readCsvFile, toNumericTable } from '../../../../lambdas/core/common/csv';

const SAMPLE = 'mean radius,"texture, mean",diagnosis\n17.99,10.38,0\n20.57,17.77,1\n\n19.69,21.25,0\n';

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof CsvFormatError, `expected a CsvFormatError, got ${String(error)}`);
    return error.message;
  }
  assert.fail('expected an error');
}

describe('parseCsv and toNumericTable', () => {
  it('reads the header, numeric features and the label column; skips blank lines; keeps quoted commas', () => {
    const table = toNumericTable(parseCsv(SAMPLE, 'bc.csv'), 'diagnosis');
    assert.deepEqual(table.features, ['mean radius', 'texture, mean']);
    assert.equal(table.labelColumn, 'diagnosis');
    assert.deepEqual(table.labels, ['0', '1', '0']);
    assert.equal(table.x.rows, 3);
    assert.deepEqual(Array.from(table.x.data), [17.99, 10.38, 20.57, 17.77, 19.69, 21.25]);
  });

  it('treats every column as a feature when no label column is asked for', () => {
    const table = toNumericTable(parseCsv(SAMPLE));
    assert.deepEqual(table.features, ['mean radius', 'texture, mean', 'diagnosis']);
    assert.equal(table.labels, undefined);
  });

  it('reads gzip-compressed bytes and a UTF-8 byte-order mark', () => {
    const table = parseCsv(gzipSync(Buffer.from(`\uFEFF${SAMPLE}`)), 'bc.csv.gz');
    assert.deepEqual(table.header, ['mean radius', 'texture, mean', 'diagnosis']);
    assert.equal(table.rows.length, 3);
  });

  it('names the row, its line and the column of a value that is not a number', () => {
    const text = 'mean radius,mean texture,diagnosis\n1,2,0\n3,abc,1\n';
    assert.equal(errorOf(() => toNumericTable(parseCsv(text, 'bc.csv'), 'diagnosis')), "bc.csv: row 2 (line 3), column 'mean texture': 'abc' is not a number");
  });

  it('counts data rows after blank lines correctly and reports empty cells', () => {
    const text = 'a,b,y\n1,2,0\n\n3,,1\n';
    assert.equal(errorOf(() => toNumericTable(parseCsv(text, 'd.csv'), 'y')), "d.csv: row 2 (line 4), column 'b': is empty, expected a number");
  });

  it('rejects infinite values and empty labels', () => {
    assert.match(errorOf(() => toNumericTable(parseCsv('a,y\nInfinity,1\n', 'd.csv'), 'y')), /row 1 \(line 2\), column 'a': 'Infinity' is not a finite number/);
    assert.match(errorOf(() => toNumericTable(parseCsv('a,y\n1,""\n', 'd.csv'), 'y')), /row 1 \(line 2\), column 'y': the label is empty/);
  });

  it('rejects a row with the wrong number of values', () => {
    assert.equal(errorOf(() => parseCsv('a,b,y\n1,2,0\n1,2\n', 'd.csv')), 'd.csv: row 2 (line 3) has 2 values, the header has 3 columns');
  });

  it('lists the columns when the label column does not exist', () => {
    assert.equal(errorOf(() => toNumericTable(parseCsv(SAMPLE, 'bc.csv'), 'target')), "bc.csv: no column 'target' for the label; the columns are 'mean radius', 'texture, mean', 'diagnosis'");
  });

  it('asks for a header when the first line is data, and rejects empty, header-only and duplicate-column files', () => {
    assert.match(errorOf(() => parseCsv('1,2,0\n3,4,1\n', 'raw.csv')), /raw\.csv: the first line looks like data \(1,2,0,\.\.\.\), not a header; add a header row/);
    assert.equal(errorOf(() => parseCsv('', 'e.csv')), 'e.csv: is empty; expected a header row and data rows');
    assert.equal(errorOf(() => parseCsv('a,b\n', 'h.csv')), 'h.csv: has a header but no data rows');
    assert.equal(errorOf(() => parseCsv('a,a\n1,2\n', 'h.csv')), "h.csv: the header names column 'a' twice");
    assert.match(errorOf(() => parseCsv('a,b\n1,"2\n', 'q.csv')), /^q\.csv: not valid CSV near line 2/);
  });
});

describe('readCsvFile', () => {
  it('reads a .csv.gz file and says when a file is missing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlship-csv-'));
    writeFileSync(join(dir, 'd.csv.gz'), gzipSync(SAMPLE));
    assert.equal(readCsvFile(join(dir, 'd.csv.gz')).rows.length, 3);
    assert.equal(errorOf(() => readCsvFile(join(dir, 'nope.csv'))), `${join(dir, 'nope.csv')}: file not found`);
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the committed built-in data sets with their real headers', () => {
    const breast = toNumericTable(readCsvFile('models/breast-cancer/data/breast_cancer.csv'), 'diagnosis');
    assert.equal(breast.x.rows, 569);
    assert.equal(breast.features.length, 30);
    assert.equal(breast.features[0], 'mean radius');
    assert.equal(breast.labels!.filter((l) => l === '0').length, 212, '212 malignant');
    const digits = toNumericTable(readCsvFile('models/digits/data/digits.csv.gz'), 'digit');
    assert.equal(digits.x.rows, 1797);
    assert.deepEqual([digits.features[0], digits.features[63]], ['pixel_0_0', 'pixel_7_7']);
  });
});
