// Bounds of the local state folder (.mlship/): captures older than monitoring.captureRetentionDays go, as the
// capture bucket's lifecycle rules expire them in the cloud (lib/monitoring/data-capture.ts), and past the
// size cap (monitoring.localStateMaxMb, or npm start --state-max-mb) the oldest captures go first, the files
// being written last, leaving room for what arrives until the next check (as much as arrived since the last, at
// most a quarter of the cap). Nothing goes silently: each drop is counted (files, bytes, by age or by the cap), shown on
// the status page and told on the log. Checked on its own timer, off the request path, from the folders'
// listings and file sizes only (no file is read). Only traffic's files are dropped (captures, prediction records
// and labels: what the capture bucket's lifecycle expires in the cloud): release state, alerts, the
// monitor's state and summaries are counted in the folder's size but kept.
import { readdir, rm, rmdir, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { LAMBDA_CAPTURE_PREFIX, SAGEMAKER_CAPTURE_PREFIX } from '../../lambdas/core/monitoring/contracts';
import { GROUND_TRUTH_PREFIX, PREDICTIONS_PREFIX } from '../../lambdas/core/quality/contracts';

/** Default of monitoring.localStateMaxMb. */
export const DEFAULT_STATE_MAX_MB = 2048;
/** Time between checks by default, ms. */
export const DEFAULT_STATE_CHECK_MS = 10_000;
const MIB = 1024 * 1024;

export interface StateBoundsOptions {
  /** The state folder (.mlship): its whole size counts against the cap. */
  readonly stateDir: string;
  /** The capture folder (.mlship/capture): its lambda/ and data-capture/ files are what may go. */
  readonly captureFolder: string;
  /** The cap, bytes. */
  readonly maxBytes: number;
  /** Captures older than this go (by their last write), ms. */
  readonly retentionMs: number;
  /** The files being written now (absolute paths): dropped last, only when nothing else is left. @default none */
  readonly inUse?: () => ReadonlySet<string>;
  /** Time between checks, ms. @default 10 s */
  readonly intervalMs?: number;
  readonly now?: () => number;
  /** Each drop, in one line. @default stderr */
  readonly log?: (line: string) => void;
}

export interface DropCount {
  readonly files: number;
  readonly bytes: number;
}

/** What the status page shows. */
export interface StateBoundsStatus {
  readonly capBytes: number;
  readonly retentionDays: number;
  /** The folder's size at the last check (after its drops); null before the first. */
  readonly stateBytes: number | null;
  readonly files: number | null;
  readonly checkedAt?: string;
  /** Still over the cap after dropping every capture it could (the rest is not captures). */
  readonly overCap: boolean;
  /** Since start. */
  readonly dropped: { readonly byAge: DropCount; readonly byCap: DropCount };
  readonly lastDrop?: { readonly at: string; readonly reason: 'age' | 'cap'; readonly files: number; readonly bytes: number };
  readonly lastError?: string;
}

interface FileEntry {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly capture: boolean;
}

export const mib = (bytes: number) => `${(bytes / MIB).toFixed(bytes < 10 * MIB ? 1 : 0)} MiB`;

export class StateFolderBounds {
  private readonly stateDir: string;
  private readonly captureRoots: string[];
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<StateBoundsStatus> | undefined;
  private readonly now: () => number;
  private dropped = { byAge: { files: 0, bytes: 0 }, byCap: { files: 0, bytes: 0 } };
  private last: Pick<StateBoundsStatus, 'stateBytes' | 'files' | 'checkedAt' | 'overCap' | 'lastDrop' | 'lastError'> = { stateBytes: null, files: null, overCap: false };

  constructor(private readonly options: StateBoundsOptions) {
    if (!(options.maxBytes > 0)) throw new RangeError(`the state folder's cap must be above 0 bytes, received ${options.maxBytes}`);
    this.stateDir = resolve(options.stateDir);
    const capture = resolve(options.captureFolder);
    // Everything traffic writes: captures, the prediction records of every answer, and the labels sent back.
    this.captureRoots = [LAMBDA_CAPTURE_PREFIX, SAGEMAKER_CAPTURE_PREFIX, PREDICTIONS_PREFIX, GROUND_TRUTH_PREFIX].map((prefix) => join(capture, prefix));
    this.now = options.now ?? Date.now;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.check(), this.options.intervalMs ?? DEFAULT_STATE_CHECK_MS);
    this.timer.unref();
  }

  stop(): Promise<unknown> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    return this.checking ?? Promise.resolve();
  }

  /** Checks now (or joins the check in progress): drops what is past retention, then what is over the cap. */
  check(): Promise<StateBoundsStatus> {
    this.checking ??= this.enforce()
      .catch((error: unknown) => {
        this.last = { ...this.last, lastError: (error as Error).message };
        return this.status();
      })
      .finally(() => (this.checking = undefined));
    return this.checking;
  }

  private isCapture(path: string): boolean {
    return this.captureRoots.some((root) => path.startsWith(root)) && !path.slice(path.lastIndexOf(sep) + 1).startsWith('.mlship-partial-');
  }

  /** Every file under the state folder with its size and last write (lstat: links are not followed). */
  private async files(): Promise<FileEntry[]> {
    const found: FileEntry[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw error;
      }
      for (const entry of entries) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) await walk(path);
        else if (entry.isFile()) {
          try {
            const st = await stat(path);
            found.push({ path, size: st.size, mtimeMs: st.mtimeMs, capture: this.isCapture(path) });
          } catch (error) {
            // Gone between the listing and the stat (the monitor renames its state into place).
            if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
          }
        }
      }
    };
    await walk(this.stateDir);
    return found;
  }

  private async drop(file: FileEntry): Promise<boolean> {
    try {
      await rm(file.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
    // Empty hour folders go too, so the monitor's listings stay short.
    let dir = dirname(file.path);
    while (this.captureRoots.some((root) => dir.startsWith(root) && dir.length > root.length)) {
      try {
        await rmdir(dir);
      } catch {
        break;
      }
      dir = dirname(dir);
    }
    return true;
  }

  private async enforce(): Promise<StateBoundsStatus> {
    const now = this.now();
    const files = await this.files();
    let total = files.reduce((s, f) => s + f.size, 0);
    const kept = new Set(files);
    const age = { files: 0, bytes: 0 };
    for (const file of files) {
      if (file.capture && now - file.mtimeMs > this.options.retentionMs && (await this.drop(file))) {
        age.files++;
        age.bytes += file.size;
        total -= file.size;
        kept.delete(file);
      }
    }
    const cap = { files: 0, bytes: 0 };
    // Room for what arrives before the next check (as much as arrived since the last), so the folder stays
    // within the cap between checks too, not only at them.
    const growth = this.last.stateBytes === null ? 0 : Math.max(0, total + age.bytes - this.last.stateBytes);
    const target = Math.max(0, this.options.maxBytes - Math.min(growth, this.options.maxBytes / 4));
    if (total > target) {
      const inUse = this.options.inUse?.() ?? new Set<string>();
      // Oldest first; the files being written only once nothing else is left.
      const candidates = [...kept].filter((f) => f.capture).sort((a, b) => Number(inUse.has(a.path)) - Number(inUse.has(b.path)) || a.mtimeMs - b.mtimeMs || (a.path < b.path ? -1 : 1));
      for (const file of candidates) {
        if (total <= target) break;
        if (await this.drop(file)) {
          cap.files++;
          cap.bytes += file.size;
          total -= file.size;
          kept.delete(file);
        }
      }
    }
    const at = new Date(now).toISOString();
    const log = this.options.log ?? ((line: string) => process.stderr.write(`mlship: ${line}\n`));
    const where = relative(process.cwd(), this.stateDir) || '.';
    if (age.files > 0) log(`state folder ${where}: dropped ${age.files} capture file${age.files === 1 ? '' : 's'} (${mib(age.bytes)}) older than ${this.retentionDays} days`);
    if (cap.files > 0) log(`state folder ${where}: over its cap of ${mib(this.options.maxBytes)}: dropped the ${cap.files} oldest capture file${cap.files === 1 ? '' : 's'} (${mib(cap.bytes)})`);
    this.dropped = {
      byAge: { files: this.dropped.byAge.files + age.files, bytes: this.dropped.byAge.bytes + age.bytes },
      byCap: { files: this.dropped.byCap.files + cap.files, bytes: this.dropped.byCap.bytes + cap.bytes },
    };
    const lastDrop = cap.files > 0 ? { at, reason: 'cap' as const, ...cap } : age.files > 0 ? { at, reason: 'age' as const, ...age } : this.last.lastDrop;
    this.last = { stateBytes: total, files: kept.size, checkedAt: at, overCap: total > this.options.maxBytes, ...(lastDrop ? { lastDrop } : {}) };
    return this.status();
  }

  private get retentionDays(): number {
    return this.options.retentionMs / 86_400_000;
  }

  status(): StateBoundsStatus {
    return { capBytes: this.options.maxBytes, retentionDays: this.retentionDays, ...this.last, dropped: { byAge: { ...this.dropped.byAge }, byCap: { ...this.dropped.byCap } } };
  }
}
