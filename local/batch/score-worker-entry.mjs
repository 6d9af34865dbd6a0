// The batch worker thread's entry. Node 20 does not apply `--import tsx` to a worker whose entry is a .ts
// file, so this plain module registers tsx's loader first and then loads the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./score-worker.ts');
