// Temp folders staged at synth (a Docker build context, a Lambda code folder). The CDK copies each into
// cdk.out when the asset is created, so they are only needed until the process ends, when they are removed.
import { copyFileSync, linkSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const stagedDirs: string[] = [];
let cleanupRegistered = false;

/** A new, empty temp folder named `<prefix>XXXXXX`, removed when the process exits. */
export function stagingDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  stagedDirs.push(dir);
  if (!cleanupRegistered) {
    cleanupRegistered = true;
    process.once('exit', () => {
      for (const staged of stagedDirs) rmSync(staged, { recursive: true, force: true });
    });
  }
  return dir;
}

/** Hard-links a file (no copy of a 25 MB runtime on the same disk), copying across file systems; returns its size. */
export function placeFile(source: string, target: string): number {
  mkdirSync(dirname(target), { recursive: true });
  try {
    linkSync(source, target);
  } catch {
    copyFileSync(source, target);
  }
  return statSync(target).size;
}
