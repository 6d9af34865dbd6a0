// CSV text read field by field, shared by the scorer's CSV reader (csv-records.ts) and the record splitter
// (record-splitter.ts), so both find the same fields and record ends: a quoted field may hold commas and
// line ends and doubles its quotes; text after a closing quote runs to the next comma or line end; line
// ends are LF, CRLF or a lone CR. When the text ends first and more may come, the answer says so
// (undefined, INCOMPLETE) and the caller waits for more text.

export const COMMA = 44;
export const LF = 10;
export const CR = 13;
export const QUOTE = 34;
/** The answer of a record reader when the buffer ends before the record does. */
export const INCOMPLETE = -1;

export interface TextField {
  readonly text: string;
  readonly quoted: boolean;
  /** Position of the character after the field (a comma, a line end, or the buffer's end). */
  readonly end: number;
  /** What is wrong with the quoting, if anything. */
  readonly malformed?: string;
}

/** Reads one field as text (quoted or not); undefined when the buffer ends first and more may come. */
export function readTextField(buf: string, start: number, final: boolean): TextField | undefined {
  const n = buf.length;
  if (start < n && buf.charCodeAt(start) === QUOTE) {
    let text = '';
    let segment = start + 1;
    for (;;) {
      const q = buf.indexOf('"', segment);
      if (q < 0) {
        if (!final) return undefined;
        return { text: text + buf.slice(segment), quoted: true, end: n, malformed: 'has a quote that is never closed' };
      }
      if (q + 1 >= n && !final) return undefined;
      if (buf.charCodeAt(q + 1) === QUOTE) {
        text += buf.slice(segment, q + 1);
        segment = q + 2;
        continue;
      }
      text += buf.slice(segment, q);
      let p = q + 1;
      let c = p < n ? buf.charCodeAt(p) : -1;
      if (c === COMMA || c === LF || c === CR || c === -1) return { text, quoted: true, end: p };
      while (p < n && (c = buf.charCodeAt(p)) !== COMMA && c !== LF && c !== CR) p++;
      if (p >= n && !final) return undefined;
      return { text, quoted: true, end: p, malformed: 'has text after its closing quote' };
    }
  }
  let p = start;
  let c = 0;
  while (p < n && (c = buf.charCodeAt(p)) !== COMMA && c !== LF && c !== CR) p++;
  if (p >= n && !final) return undefined;
  return { text: buf.slice(start, p), quoted: false, end: p };
}

/** Position after the line end at `p` (LF, CRLF or a lone CR), or INCOMPLETE when a CR ends the buffer. */
export function afterLineEnd(buf: string, p: number, final: boolean): number {
  const n = buf.length;
  if (p >= n) return n;
  const c = buf.charCodeAt(p);
  if (c === LF) return p + 1;
  if (c === CR) {
    if (p + 1 >= n) return final ? n : INCOMPLETE;
    return buf.charCodeAt(p + 1) === LF ? p + 2 : p + 1;
  }
  return p;
}
