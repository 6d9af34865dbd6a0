// docs/manifest.md is generated from the manifest schema (scripts/docs/manifest-reference.ts): this fails
// when the page is not what the schema renders today, and says how to make it so; when a field has no
// description in the schema; and when the page's example manifest would not pass validation.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { manifestSchema } from '../../lambdas/core/manifest/schema';
import { EXAMPLE_MANIFEST, MANIFEST_REFERENCE_FILE, MANIFEST_REFERENCE_PATH, REGENERATE_COMMAND, renderManifestReference, undescribedFields } from '../../scripts/docs/manifest-reference';

describe('the manifest reference (docs/manifest.md)', () => {
  it('is what the schema renders', () => {
    const stale = `${MANIFEST_REFERENCE_PATH} is stale: the manifest schema changed. Regenerate it with \`${REGENERATE_COMMAND}\` and commit the page.`;
    assert.ok(existsSync(MANIFEST_REFERENCE_FILE), `${MANIFEST_REFERENCE_PATH} is missing. Generate it with \`${REGENERATE_COMMAND}\`.`);
    const page = readFileSync(MANIFEST_REFERENCE_FILE, 'utf8');
    const rendered = renderManifestReference();
    if (page !== rendered) {
      const pageLines = page.split('\n');
      const renderedLines = rendered.split('\n');
      const first = renderedLines.findIndex((line, i) => line !== pageLines[i]);
      const at = first === -1 ? pageLines.length : first;
      assert.fail(`${stale}\nfirst difference at line ${at + 1}:\n  page:     ${pageLines[at] ?? '(end of file)'}\n  rendered: ${renderedLines[at] ?? '(end of file)'}`);
    }
  });

  it('has a description for every field, from the schema', () => {
    assert.deepEqual(undescribedFields(), [], 'describe these fields in the manifest schema (.describe(...)), then run the docs script');
  });

  it("shows every field, its limits and its default as the schema has them", () => {
    const page = renderManifestReference();
    assert.match(page, /\| `maxBodyBytes` \| whole number, 1024 \.\. 6291456 \| `1048576` \|/);
    assert.match(page, /\| `strategy` \| `canary` \\\| `linear` \\\| `all-at-once` \| `canary` \|/);
    assert.match(page, /\| `models` \| list of objects: \[`models\[\]`\]\(#models\), at least 1 \| required \|/);
    assert.match(page, /\| `tritonVersion` \| .* \| `"24\.09"` \|/);
    assert.match(page, /\| `periodMinutes` \| one of `1`, `5`, `10`, `15`, `30`, `60` \| `5` \|/);
    assert.match(page, /^## `models\[\]\.sagemaker\.canary`$/m);
  });

  it('shows an example manifest that validates', () => {
    const result = manifestSchema.safeParse(parse(EXAMPLE_MANIFEST));
    assert.ok(result.success, result.success ? '' : JSON.stringify(result.error.issues));
    assert.ok(renderManifestReference().includes(EXAMPLE_MANIFEST));
  });
});
