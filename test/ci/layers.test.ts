// The layout's two rules (docs/architecture.md), checked on every relative import of the source: imports
// only go down (bin -> local -> lib -> lambdas/<function> -> lambdas/core), and there is no import circle.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { PROJECT_ROOT } from '../../lib/private/bundle';

const SOURCE_FOLDERS = ['bin', 'local', 'lib', 'lambdas'];
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"]*)\1/g;

function sourceFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.ts$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

function resolveImport(from: string, spec: string): string | undefined {
  const base = resolve(dirname(from), spec);
  return [base, `${base}.ts`, join(base, 'index.ts')].find((candidate) => existsSync(candidate) && statSync(candidate).isFile());
}

/** Each source file's relative imports, as repository paths. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const folder of SOURCE_FOLDERS) {
    for (const file of sourceFiles(join(PROJECT_ROOT, folder))) {
      const text = readFileSync(file, 'utf8');
      const targets = [...text.matchAll(IMPORT)].map((m) => resolveImport(file, m[2]!)).filter((t): t is string => t !== undefined && t.endsWith('.ts'));
      graph.set(relative(PROJECT_ROOT, file), targets.map((t) => relative(PROJECT_ROOT, t)));
    }
  }
  return graph;
}

/** The layer of a path: higher layers may import lower ones, never the other way. */
function layer(path: string): number {
  if (path.startsWith('lambdas/core/')) return 0;
  if (path.startsWith('lambdas/')) return 1;
  if (path.startsWith('lib/')) return 2;
  if (path.startsWith('local/')) return 3;
  if (path.startsWith('bin/')) return 4;
  return 5;
}

/** Every import circle, each as the path of files around it. */
function circles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return found;
}

describe('the layout', () => {
  const graph = importGraph();

  it('reads the imports of every source file', () => {
    assert.ok(graph.size > 150, `source files found: ${graph.size}`);
    assert.ok(graph.get('lib/stack/mlship-stack.ts')?.includes('lib/serving/inference-api.ts'), 'a known import is seen');
  });

  it('imports only go down: bin -> local -> lib -> lambdas/<function> -> lambdas/core', () => {
    const upward = [...graph].flatMap(([file, targets]) => targets.filter((t) => layer(t) > layer(file)).map((t) => `${file} imports ${t}`));
    assert.deepEqual(upward, []);
  });

  it('has no import circle', () => {
    assert.deepEqual(circles(graph).map((c) => c.join(' -> ')), []);
  });

  it('finds a circle and an upward import when there is one (the checks can fail)', () => {
    const made = new Map([
      ['lambdas/core/a.ts', ['lambdas/core/b.ts']],
      ['lambdas/core/b.ts', ['lambdas/core/a.ts', 'lib/c.ts']],
    ]);
    assert.deepEqual(circles(made), [['lambdas/core/a.ts', 'lambdas/core/b.ts', 'lambdas/core/a.ts']]);
    assert.ok(layer('lib/c.ts') > layer('lambdas/core/b.ts'));
  });
});
