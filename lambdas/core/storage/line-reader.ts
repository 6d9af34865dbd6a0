// Reading an object as lines, in memory that does not grow with the object: the store's stream (an S3 body,
// a file) is cut at each newline as its pieces arrive, so what is held at once is one piece and at most one
// line. Only complete lines (ending in \n) are handed on; an unfinished last line is left for a later read,
// which starts at the byte the last complete line ended (`next`), so a growing file is continued where the
// previous read stopped. A line longer than `maxLineBytes` is skipped as its bytes go by, never held whole,
// and reported with its length.
import type { ObjectStore } from './object-store';

/** Longest line held by default: 1 MiB, five times the longest capture line a function writes (200 KB). */
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;

const NEWLINE = 0x0a;

export interface ReadLinesOptions {
  /** First byte to read: the `next` of the previous read of this object. @default 0 */
  readonly start?: number;
  /**
   * The byte after the last one to read, usually the object's size when it was listed (a file growing
   * meanwhile is read up to there). Needed with `start`.
   * @default - to the object's end
   */
  readonly end?: number;
  /** Longest line held; a longer one is skipped and reported to `tooLong`. @default DEFAULT_MAX_LINE_BYTES */
  readonly maxLineBytes?: number;
}

export interface LineVisitor {
  /** One complete line, without its \n (UTF-8 decoded); `offset` is its first byte's in the object. */
  line(text: string, offset: number): void;
  /** A complete line longer than maxLineBytes, skipped unread: its length in bytes (without its \n). */
  tooLong(bytes: number, offset: number): void;
}

export interface LinesRead {
  /** Where the next read starts: the byte after the last complete line's \n (`start` when there was none). */
  readonly next: number;
  /** Bytes that came from the store. */
  readonly bytesRead: number;
  /** Complete lines, the too-long ones included. */
  readonly lines: number;
  /** Bytes of an unfinished last line (no \n yet), left for a later read. */
  readonly pendingBytes: number;
}

/**
 * Reads `key` (or its bytes [start, end)) line by line, calling `visitor` for each complete line in order.
 * An error thrown by the visitor stops the read and comes back; the stream is closed either way.
 */
export async function readLines(store: ObjectStore, bucket: string, key: string, visitor: LineVisitor, options: ReadLinesOptions = {}): Promise<LinesRead> {
  const start = options.start ?? 0;
  const max = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  if (!(Number.isSafeInteger(start) && start >= 0)) throw new RangeError(`start must be a whole number of bytes, received ${start}`);
  if (!(Number.isSafeInteger(max) && max >= 1)) throw new RangeError(`maxLineBytes must be a whole number of bytes, 1 or more, received ${max}`);
  if (options.end === undefined && start > 0) throw new RangeError(`reading ${key} from byte ${start} needs its end (the size it was listed with)`);
  if (options.end !== undefined && options.end <= start) return { next: start, bytesRead: 0, lines: 0, pendingBytes: 0 };
  const range = options.end === undefined ? undefined : { start, end: options.end - 1 };

  // The unfinished line: its pieces so far (copies), their length, whether it is already too long.
  let carry: Buffer[] = [];
  let carryBytes = 0;
  let skipping = false;
  let lineStart = start;
  let offset = start;
  let lines = 0;
  let bytesRead = 0;
  for await (const piece of store.readStream(bucket, key, range)) {
    const chunk = Buffer.isBuffer(piece) ? piece : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    bytesRead += chunk.length;
    let pos = 0;
    while (pos < chunk.length) {
      const nl = chunk.indexOf(NEWLINE, pos);
      if (nl === -1) {
        const rest = chunk.length - pos;
        if (!skipping && carryBytes + rest > max) {
          skipping = true;
          carry = [];
        }
        if (!skipping) carry.push(Buffer.from(chunk.subarray(pos)));
        carryBytes += rest;
        break;
      }
      const length = carryBytes + (nl - pos);
      if (skipping || length > max) {
        visitor.tooLong(length, lineStart);
      } else {
        const text = carryBytes === 0 ? chunk.toString('utf8', pos, nl) : Buffer.concat([...carry, chunk.subarray(pos, nl)]).toString('utf8');
        visitor.line(text, lineStart);
      }
      lines++;
      lineStart = offset + nl + 1;
      carry = [];
      carryBytes = 0;
      skipping = false;
      pos = nl + 1;
    }
    offset += chunk.length;
  }
  return { next: lineStart, bytesRead, lines, pendingBytes: carryBytes };
}
