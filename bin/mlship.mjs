#!/usr/bin/env node
// Executable shim for `mlship` (package.json "bin"): lets Node run the TypeScript CLI through tsx.
import { register } from 'tsx/esm/api';

register();
await import('./mlship.ts');
