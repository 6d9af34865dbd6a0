// mlship feedback: the bulk path for labels produced by other systems (issue 17.2). Streams a CSV file (header
// id,index,label, or id,index,value for a regressor; index and time optional) or a JSONL file of label records,
// checks every row against the model as the feedback API does, and keeps the good ones in the local state folder
// through the same label store the gateway's feedback route writes with (<stateDir>/capture/ground-truth/...),
// where the quality monitor joins them. Prints how many were accepted, were duplicates (the same id and index
// already labelled, in this file or before) and were rejected, with the first reasons and their line numbers.
// Exit code 1 when any row was rejected (the good rows are kept all the same).
import { basename, dirname, resolve } from 'node:path';
import { Command } from 'commander';
import { loadManifest, resolveManifestPath } from '../../lambdas/core/manifest/load';
import type { LabelRecord } from '../../lambdas/core/quality/contracts';
import { labelFileFormat, readLabels } from '../../lambdas/core/quality/feedback/label-reader';
import { feedbackTargetOf } from '../../lambdas/core/quality/feedback/validate';
import { LabelStore } from '../../local/quality/label-store';
import { FolderObjectStore } from '../../local/storage/folder-object-store';
import { action } from './common';

interface FeedbackFlags {
  model: string;
  file: string;
  manifest?: string;
  stateDir?: string;
  json?: boolean;
}

/** Labels handed to the store at once: one append and fsync per chunk. */
const CHUNK = 1000;
/** Rejected rows listed (all are counted). */
const REASONS_SHOWN = 20;

export interface FeedbackFileResult {
  readonly model: string;
  readonly file: string;
  readonly rows: number;
  readonly accepted: number;
  readonly duplicates: number;
  readonly rejected: number;
  /** The first rejected rows, by line. */
  readonly rejectedRows: readonly { readonly line: number; readonly reason: string }[];
}

/**
 * Reads `file` for `model` of the manifest into the label store of `stateDir`: the work of `mlship feedback`, without
 * the printing. Labels without a time are received now.
 */
export async function ingestLabelFile(options: { manifestPath: string; model: string; file: string; stateDir: string; receivedAt?: Date }): Promise<FeedbackFileResult> {
  const { models, file: manifestFile } = loadManifest(options.manifestPath);
  const loaded = models.find((m) => m.entry.name === options.model);
  if (!loaded) throw new Error(`no model '${options.model}' in ${manifestFile}; its models are ${models.map((m) => m.entry.name).join(', ')}`);
  const path = resolve(options.file);
  if (labelFileFormat(path) === undefined) throw new Error(`${options.file}: the file's name must end in .csv (id,index,${loaded.card.task === 'regression' ? 'value' : 'label'}) or .jsonl (label records)`);
  const target = feedbackTargetOf(loaded.card, loaded.entry.maxBatchSize);
  const receivedAt = options.receivedAt ?? new Date();
  const { store } = await LabelStore.open(resolve(options.stateDir, 'capture'), [target]);
  let duplicates = 0;
  let accepted = 0;
  const rejectedRows: { line: number; reason: string }[] = [];
  const writes: Promise<void>[] = [];
  let chunk: LabelRecord[] = [];
  // Chunks are stored as the file streams by: what is held is the chunks not yet on disk.
  const send = () => {
    const labels = chunk;
    chunk = [];
    writes.push(
      store.store(target.model, labels, receivedAt).then((stored) => {
        duplicates += stored.duplicates;
        accepted += labels.length - stored.duplicates;
      }),
    );
  };
  try {
    const folder = new FolderObjectStore({ file: dirname(path) });
    const read = await readLabels(folder, 'file', basename(path), target, {
      label: (record) => {
        chunk.push(record);
        if (chunk.length === CHUNK) send();
      },
      rejected: (line, reason) => {
        if (rejectedRows.length < REASONS_SHOWN) rejectedRows.push({ line, reason });
      },
    }, { receivedAt });
    if (chunk.length > 0) send();
    await Promise.all(writes);
    return { model: target.model, file: options.file, rows: read.labels + read.rejected, accepted, duplicates, rejected: read.rejected, rejectedRows };
  } finally {
    await Promise.allSettled(writes);
    await store.close();
  }
}

export function formatFeedbackResult(result: FeedbackFileResult): string[] {
  const lines = [`${result.model}: ${result.accepted} labels accepted, ${result.duplicates} duplicates, ${result.rejected} rows rejected, of ${result.rows} rows in ${result.file}`];
  if (result.rejected > 0) {
    lines.push(`rejected rows${result.rejectedRows.length < result.rejected ? ` (the first ${result.rejectedRows.length})` : ''}:`);
    lines.push(...result.rejectedRows.map((r) => `  line ${r.line}: ${r.reason}`));
  }
  return lines;
}

export function feedbackCommand(): Command {
  return new Command('feedback')
    .description("store ground-truth labels from a file (other systems' labels) in the local state folder, as the feedback API does")
    .requiredOption('--model <name>', 'model name in the manifest')
    .requiredOption('--file <file>', 'labels: .csv with a header id,index,label (id,index,value for a regressor; index and time optional) or .jsonl label records')
    .option('--manifest <file>', 'the manifest (default: models/manifest.yaml)')
    .option('--state-dir <dir>', "npm start's state folder; labels go under <dir>/capture/ground-truth/", '.mlship')
    .option('--json', 'print the counts and the rejected rows as JSON')
    .addHelpText('after', '\nA label for an (id, index) that already has one is a duplicate: it replaces nothing. Exit code 1 when any row was rejected; the good rows are kept all the same.')
    .action(
      action(async (flags: FeedbackFlags) => {
        const result = await ingestLabelFile({ manifestPath: resolveManifestPath(flags.manifest), model: flags.model, file: flags.file, stateDir: flags.stateDir ?? '.mlship' });
        if (flags.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        else process.stdout.write(`${formatFeedbackResult(result).join('\n')}\n`);
        if (result.rejected > 0) process.exitCode = 1;
      }),
    );
}
