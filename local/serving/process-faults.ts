// What `npm start` does with an error that no code caught, decided once, as a server must:
// - a rejected promise that nobody awaited ('unhandledRejection'): the operation that failed is over and no
//   stack was unwound through serving code, so what the process holds is sound. Log it with its stack, count
//   it, keep serving every model (Node's own default would end the process and every model with it).
// - an exception thrown out of a callback ('uncaughtException'): it unwound code halfway through whatever that
//   code was changing, which may now be half-changed (Node's docs: not safe to resume). Log it with its stack,
//   count it, stop taking requests, let those in flight finish (bounded), and exit 1 so that a supervisor
//   starts a clean process. A second one while stopping exits at once.
import { inspect } from 'node:util';

export interface ProcessFaultCounts {
  readonly unhandledRejections: number;
  readonly uncaughtExceptions: number;
  /** The latest of either: its kind, its first line and when (ISO time). */
  readonly last?: { readonly kind: 'unhandledRejection' | 'uncaughtException'; readonly message: string; readonly at: string };
}

export interface ProcessFaultPolicyOptions {
  /** Where the log lines go. @default process.stderr */
  readonly write?: (text: string) => void;
  /** Stops serving: closes the listener and waits for requests in flight. */
  readonly shutdown: () => Promise<void>;
  /** Ends the process. @default process.exit */
  readonly exit?: (code: number) => void;
  /** Longest wait for shutdown before exiting anyway, ms. @default 15000 */
  readonly shutdownTimeoutMs?: number;
}

/** The process's fault policy; `counts` is what the status page shows. */
export class ProcessFaultPolicy {
  private rejections = 0;
  private exceptions = 0;
  private last: ProcessFaultCounts['last'];
  private stopping = false;
  private readonly write: (text: string) => void;
  private readonly exit: (code: number) => void;

  constructor(private readonly options: ProcessFaultPolicyOptions) {
    this.write = options.write ?? ((text) => void process.stderr.write(text));
    this.exit = options.exit ?? ((code) => process.exit(code));
  }

  /** Installs the policy on this process (once). */
  install(target: NodeJS.Process = process): this {
    target.on('unhandledRejection', (reason) => this.onUnhandledRejection(reason));
    target.on('uncaughtException', (error) => this.onUncaughtException(error));
    return this;
  }

  get counts(): ProcessFaultCounts {
    return { unhandledRejections: this.rejections, uncaughtExceptions: this.exceptions, ...(this.last ? { last: this.last } : {}) };
  }

  onUnhandledRejection(reason: unknown): void {
    this.rejections += 1;
    this.note('unhandledRejection', reason);
    this.write(`mlship: ERROR unhandled promise rejection #${this.rejections} (serving goes on; the process state is sound):\n${describe(reason)}\n`);
  }

  onUncaughtException(error: unknown): void {
    this.exceptions += 1;
    this.note('uncaughtException', error);
    this.write(`mlship: ERROR uncaught exception #${this.exceptions}: the process state may be inconsistent, so it stops (requests in flight finish first) and exits 1:\n${describe(error)}\n`);
    if (this.stopping) return this.exit(1);
    this.stopping = true;
    const timer = setTimeout(() => {
      this.write('mlship: requests in flight did not finish in time; exiting\n');
      this.exit(1);
    }, this.options.shutdownTimeoutMs ?? 15_000);
    timer.unref();
    this.options.shutdown().then(
      () => this.exit(1),
      (shutdownError: unknown) => {
        this.write(`mlship: error while stopping: ${describe(shutdownError)}\n`);
        this.exit(1);
      },
    );
  }

  private note(kind: 'unhandledRejection' | 'uncaughtException', reason: unknown): void {
    const message = reason instanceof Error ? `${reason.name}: ${reason.message}` : inspect(reason, { depth: 2, breakLength: Infinity });
    this.last = { kind, message: message.split('\n')[0]!.slice(0, 300), at: new Date().toISOString() };
  }
}

/** The error with its stack (and cause), or whatever was thrown, shown as Node shows it. */
function describe(reason: unknown): string {
  return inspect(reason, { depth: 4 });
}
