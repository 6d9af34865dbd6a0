// Only a splitter of CSV records is left here: labels are read by feedback/label-reader.ts (readLabels, the one
// definition of a label line). It stays for the tests that read the rows files (test/lambdas/quality-monitor/
// handler.test.ts, test/local/quality/quality-run.test.ts import it from here); once they split the rows with
// csv-parse/sync, this file goes.
/** Splits one CSV record (fields may be quoted, "" inside quotes is a quote; an id may hold a comma). */
export function csvCells(line: string): string[] {
  const cells: string[] = [];
  let i = 0;
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  for (;;) {
    if (text[i] === '"') {
      let cell = '';
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q === -1) throw new Error('a quoted field is not closed');
        cell += text.slice(i, q);
        if (text[q + 1] === '"') {
          cell += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      cells.push(cell);
      if (i === text.length) return cells;
      if (text[i] !== ',') throw new Error('text after a quoted field');
      i++;
    } else {
      const comma = text.indexOf(',', i);
      if (comma === -1) {
        cells.push(text.slice(i).trim());
        return cells;
      }
      cells.push(text.slice(i, comma).trim());
      i = comma + 1;
    }
  }
}
