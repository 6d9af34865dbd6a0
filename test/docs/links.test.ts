// The documentation's links and paths: every relative link in README.md, CONTRIBUTING.md and docs/*.md
// resolves to a file or folder of the repository, and a link with a #fragment to a heading of its target
// (GitHub's anchors: lower case, punctuation dropped, spaces to dashes, -1, -2 for repeats); every path of the
// repository named in inline code (`lib/...`, `lambdas/...`) exists. No network: external links are skipped.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The pages checked, relative to the repository root. */
function documentationPages(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`);
  return ['README.md', 'CONTRIBUTING.md', ...docs];
}

/** The lines of a page outside fenced code blocks, with their line numbers. */
function proseLines(text: string): { line: number; text: string }[] {
  const lines: { line: number; text: string }[] = [];
  let fence: string | undefined;
  text.split('\n').forEach((raw, index) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(raw)?.[1];
    if (marker) {
      if (fence === undefined) fence = marker[0]!;
      else if (marker[0] === fence) fence = undefined;
      return;
    }
    if (fence === undefined) lines.push({ line: index + 1, text: raw });
  });
  return lines;
}

const CODE_SPAN = /(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/g;

/** GitHub's anchor of a heading's text (github-slugger): lower case, punctuation dropped, spaces to dashes. */
function githubSlug(heading: string): string {
  const text = heading
    .replace(CODE_SPAN, (_, _ticks: string, content: string) => content.trim())
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/[*~]/g, '');
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a page offers: its headings' slugs (repeats numbered as GitHub does) and explicit ids. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const counts = new Map<string, number>();
  for (const { text } of proseLines(markdown)) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(text)?.[1];
    if (heading !== undefined) {
      const base = githubSlug(heading);
      const seen = counts.get(base) ?? 0;
      counts.set(base, seen + 1);
      anchors.add(seen === 0 ? base : `${base}-${seen}`);
    }
    for (const match of text.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(match[1]!);
  }
  return anchors;
}

interface Link {
  readonly line: number;
  readonly target: string;
}

/** The inline links of a page (`[text](target)`, images too), outside code. */
function linksOf(markdown: string): Link[] {
  const links: Link[] = [];
  for (const { line, text } of proseLines(markdown)) {
    // Code spans hold no links; their text may hold brackets (`models[]`), so they become one letter.
    const prose = text.replace(CODE_SPAN, 'x');
    for (const match of prose.matchAll(/!?\[(?:[^\][]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) links.push({ line, target: match[1]! });
  }
  return links;
}

/** Why a link does not resolve, or undefined when it does. External links are not followed. */
function brokenLink(page: string, target: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return undefined;
  const hash = target.indexOf('#');
  const pathPart = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
  const fragment = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
  const file = pathPart === '' ? join(ROOT, page) : resolve(ROOT, dirname(page), pathPart);
  if (!file.startsWith(ROOT)) return `${target} points outside the repository`;
  if (!existsSync(file)) return `${target}: no such file or folder ${relative(ROOT, file)}`;
  if (fragment === undefined || fragment === '') return undefined;
  if (!file.endsWith('.md') || !statSync(file).isFile()) return `${target}: a #fragment on a file that is not a Markdown page`;
  const anchors = anchorsOf(readFileSync(file, 'utf8'));
  return anchors.has(fragment) ? undefined : `${target}: ${relative(ROOT, file)} has no heading with the anchor #${fragment}`;
}

/** The top folders whose paths the pages name in inline code, e.g. `lib/serving/inference-api.ts`. */
const REPOSITORY_PATH = /^(?:bin|lib|lambdas|local|scripts|test|bench|docs|models|\.github|\.ci)\/[\w.@/-]*$/;

/** Paths of the repository a page names in inline code (placeholders like `<name>` or `*` are not paths). */
function repositoryPathsOf(markdown: string): Link[] {
  const paths: Link[] = [];
  for (const { line, text } of proseLines(markdown)) {
    for (const match of text.matchAll(CODE_SPAN)) {
      const span = match[2]!.trim();
      if (REPOSITORY_PATH.test(span) && !span.includes('..')) paths.push({ line, target: span });
    }
  }
  return paths;
}

describe('documentation links', () => {
  it('finds the pages, and links in them', () => {
    const pages = documentationPages();
    assert.ok(pages.includes('docs/architecture.md') && pages.includes('docs/manifest.md'), pages.join(', '));
    assert.ok(linksOf(readFileSync(join(ROOT, 'README.md'), 'utf8')).length > 10, 'README.md links into docs/');
  });

  it('resolves every relative link, #anchors included, to a file and a heading', () => {
    const broken: string[] = [];
    for (const page of documentationPages()) {
      for (const { line, target } of linksOf(readFileSync(join(ROOT, page), 'utf8'))) {
        const problem = brokenLink(page, target);
        if (problem) broken.push(`${page}:${line}: ${problem}`);
      }
    }
    assert.deepEqual(broken, [], `broken links:\n${broken.join('\n')}`);
  });

  it('names only paths of the repository that exist', () => {
    const missing: string[] = [];
    for (const page of documentationPages()) {
      for (const { line, target } of repositoryPathsOf(readFileSync(join(ROOT, page), 'utf8'))) {
        if (!existsSync(join(ROOT, target))) missing.push(`${page}:${line}: ${target}`);
      }
    }
    assert.deepEqual(missing, [], `paths named in the docs that do not exist:\n${missing.join('\n')}`);
  });
});

describe('the link checker itself', () => {
  it("makes GitHub's anchors", () => {
    assert.equal(githubSlug('Checking what is live: `mlship verify`'), 'checking-what-is-live-mlship-verify');
    assert.equal(githubSlug('3. Alarms watch the new version'), '3-alarms-watch-the-new-version');
    assert.equal(githubSlug('`models[].sagemaker.canary`'), 'modelssagemakercanary');
    assert.equal(githubSlug('Lambda or SageMaker'), 'lambda-or-sagemaker');
    assert.equal(githubSlug('The `runtime: sagemaker` block'), 'the-runtime-sagemaker-block');
    assert.equal(githubSlug('snake_case and [a link](x.md)'), 'snake_case-and-a-link');
  });

  it('numbers repeated headings and ignores headings in code blocks', () => {
    const anchors = anchorsOf('# Locally\n\n## Locally\n\n```\n# not a heading\n```\n\n### Locally\n');
    assert.deepEqual([...anchors], ['locally', 'locally-1', 'locally-2']);
  });

  it('reads links outside code only, with brackets in their text', () => {
    const links = linksOf('[a](a.md) `[b](b.md)` [`models[]`](#models) ![i](img.png)\n```\n[c](c.md)\n```\n[d](https://example.com "t")');
    assert.deepEqual(
      links.map((l) => l.target),
      ['a.md', '#models', 'img.png', 'https://example.com'],
    );
  });

  it('takes repository paths from inline code, not placeholders or commands', () => {
    const paths = repositoryPathsOf('`lib/serving/inference-api.ts` `lib/<capability>/` `lambdas/batch-*` `npm start` `test/e2e/` `.mlship/state.json`');
    assert.deepEqual(
      paths.map((p) => p.target),
      ['lib/serving/inference-api.ts', 'test/e2e/'],
    );
  });
});
