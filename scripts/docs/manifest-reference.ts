// Renders docs/manifest.md, the manifest reference, from the zod schema: every field with its type, its
// limits, its default and its description, all read from the schema through z.toJSONSchema (the input
// side: what a manifest may say), so the page cannot drift from what synth and `npm start` accept.
//   npm run docs              rewrite docs/manifest.md
//   npm run docs -- --check   exit 1 when docs/manifest.md differs from what the schema renders
// test/docs/manifest-reference.test.ts fails when the page is stale, or when a field has no description.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { z } from 'zod';
import { manifestSchema } from '../../lambdas/core/manifest/schema';

/** Where the page lives, from the repository root. */
export const MANIFEST_REFERENCE_PATH = 'docs/manifest.md';
export const MANIFEST_REFERENCE_FILE = fileURLToPath(new URL(`../../${MANIFEST_REFERENCE_PATH}`, import.meta.url));
export const REGENERATE_COMMAND = 'npm run docs';

/** The part of a JSON Schema this page reads. */
interface FieldSchema {
  readonly type?: string | readonly string[];
  readonly description?: string;
  readonly default?: unknown;
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly anyOf?: readonly FieldSchema[];
  readonly properties?: Readonly<Record<string, FieldSchema>>;
  readonly required?: readonly string[];
  readonly items?: FieldSchema;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly exclusiveMaximum?: number;
  readonly minItems?: number;
  readonly pattern?: string;
  readonly format?: string;
}

/** A section of the page: one object of the manifest and its fields. */
interface Section {
  readonly path: string;
  readonly schema: FieldSchema;
}

/** An example that parses: test/docs/manifest-reference.test.ts checks it against the schema. */
export const EXAMPLE_MANIFEST = `project: mlship
stage: dev
api:
  auth: iam
  throttle: { rateLimit: 100, burstLimit: 200 }
notifications:
  emails: [oncall@example.com]
models:
  - name: breast-cancer
    version: 1
    runtime: lambda
    lambda: { memoryMb: 2048, timeoutSeconds: 10 }
    release: { strategy: canary, percent: 10, intervalMinutes: 5 }
    retrain: { schedule: rate(7 days) }
    monitoring:
      drift: { driftShare: 0 }
  - name: digits
    version: 1
    runtime: sagemaker
    maxBatchSize: 500
    sagemaker: { instanceType: ml.g5.xlarge }
`;

const INTRO = `# Manifest reference

<!-- Generated from the manifest schema by \`${REGENERATE_COMMAND}\` (scripts/docs/manifest-reference.ts). Do not edit by hand. -->

The manifest, \`models/manifest.yaml\` (or \`.yml\`, \`.json\`), names the models and how each is served. \`npx cdk
deploy\` turns it into one stack, \`<project>-<stage>\`; \`npm start\` serves the same models locally. Another
file: \`npx cdk deploy -c manifest=FILE\`, \`npm start -- --manifest FILE\`, \`--manifest FILE\` on the commands.

Synth and start validate every field and report every problem at once, with its path, e.g.
\`models[1].runtime must be one of lambda, sagemaker, received 'gpu'\`. Each model's files are checked too:
\`models/<name>/<version>/model.onnx\` and \`model.json\` (next to the manifest) must exist, model.json must be a
valid model card for that name and version, the ONNX file must match its sha256 in the card, and the ONNX
graph's input and outputs must agree with the card ([models.md](models.md)).

This page is generated from the schema itself, with the descriptions and defaults it holds. A field left out
takes its default; "required" means it must be given; "-" means it may be left out, and its description says
what happens then. \`models/manifest.yaml\` documents the same fields in its header comment.

\`\`\`yaml
${EXAMPLE_MANIFEST}\`\`\`
`;

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

function code(text: string): string {
  return `\`${text}\``;
}

/** Table cells hold no pipes or line breaks. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

/** A scalar as a manifest writes it: quoted only where YAML would read it as something else ('24.09'). */
function scalar(value: unknown): string {
  return typeof value === 'string' ? stringify(value).trim() : JSON.stringify(value);
}

function isObject(schema: FieldSchema): boolean {
  return schema.type === 'object' && schema.properties !== undefined;
}

/** `models[].lambda` -> the heading's anchor, as GitHub makes it. */
function anchorOf(path: string): string {
  return path.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

/** The limits of a number: `1 .. 29`, `> 0`, `>= 10`, `< 1`. */
function numberRange(schema: FieldSchema): string | undefined {
  const low = schema.exclusiveMinimum !== undefined ? { value: schema.exclusiveMinimum, strict: true } : schema.minimum !== undefined && schema.minimum > -MAX_SAFE ? { value: schema.minimum, strict: false } : undefined;
  const high = schema.exclusiveMaximum !== undefined ? { value: schema.exclusiveMaximum, strict: true } : schema.maximum !== undefined && schema.maximum < MAX_SAFE ? { value: schema.maximum, strict: false } : undefined;
  if (low && high && !low.strict && !high.strict) return `${low.value} .. ${high.value}`;
  const parts = [...(low ? [`${low.strict ? '>' : '>='} ${low.value}`] : []), ...(high ? [`${high.strict ? '<' : '<='} ${high.value}`] : [])];
  return parts.length > 0 ? parts.join(', ') : undefined;
}

/** What a value may be, for the table's type column. */
function typeOf(schema: FieldSchema, path: string): string {
  if (schema.anyOf) {
    const constants = schema.anyOf.map((s) => s.const);
    if (constants.every((c) => c !== undefined)) return `one of ${constants.map((c) => code(scalar(c))).join(', ')}`;
    return schema.anyOf.map((s) => typeOf(s, path)).join(' or ');
  }
  if (schema.enum) return schema.enum.map((v) => code(scalar(v))).join(' | ');
  if (schema.const !== undefined) return code(scalar(schema.const));
  if (isObject(schema)) return `object: [${code(path)}](#${anchorOf(path)})`;
  if (schema.type === 'array') {
    const items = schema.items ?? {};
    const of = isObject(items) ? `objects: [${code(`${path}[]`)}](#${anchorOf(`${path}[]`)})` : typeOf(items, `${path}[]`);
    return `list of ${of}${schema.minItems ? `, at least ${schema.minItems}` : ''}`;
  }
  const name = schema.type === 'integer' ? 'whole number' : schema.type === 'string' ? 'text' : String(schema.type ?? 'any');
  if (schema.type === 'integer' || schema.type === 'number') {
    const range = numberRange(schema);
    return range ? `${name}, ${range}` : name;
  }
  if (schema.type === 'string') {
    if (schema.format === 'email') return 'e-mail address';
    if (schema.pattern) return `${name} matching ${code(schema.pattern)}`;
  }
  return name;
}

/** An object default that every field's own default explains says so; anything else is shown as JSON. */
function defaultOf(schema: FieldSchema, required: boolean): string {
  if (schema.default === undefined) return required ? 'required' : '-';
  const value = schema.default;
  if (isObject(schema) && typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const fields = schema.properties!;
    const explained = Object.entries(value).every(([key, v]) => fields[key] !== undefined && JSON.stringify(fields[key]!.default) === JSON.stringify(v));
    if (explained) return "its fields' defaults";
  }
  if (Array.isArray(value) && value.length === 0) return 'none';
  return code(flow(value));
}

/** A value as YAML flow style, the way a manifest would write it: `{ rateLimit: 100, burstLimit: 200 }`. */
function flow(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(flow).join(', ')}]`;
  if (typeof value === 'object' && value !== null) return `{ ${Object.entries(value).map(([k, v]) => `${k}: ${flow(v)}`).join(', ')} }`;
  return scalar(value);
}

/** Every object of the manifest, depth first, each after its parent. */
function sectionsOf(path: string, schema: FieldSchema): Section[] {
  const sections: Section[] = [{ path, schema }];
  for (const [name, field] of Object.entries(schema.properties ?? {})) {
    const child = path === '' ? name : `${path}.${name}`;
    if (isObject(field)) sections.push(...sectionsOf(child, field));
    else if (field.type === 'array' && field.items && isObject(field.items)) sections.push(...sectionsOf(`${child}[]`, field.items));
  }
  return sections;
}

/** Fields without a description (their manifest paths): the page needs every one explained. */
export function undescribedFields(): string[] {
  const missing: string[] = [];
  const json = manifestJsonSchema();
  for (const section of sectionsOf('', json)) {
    for (const [name, field] of Object.entries(section.schema.properties ?? {})) {
      if (!field.description?.trim()) missing.push(section.path === '' ? name : `${section.path}.${name}`);
    }
  }
  return missing;
}

function manifestJsonSchema(): FieldSchema {
  return z.toJSONSchema(manifestSchema, { io: 'input' }) as FieldSchema;
}

function renderSection(section: Section): string {
  const { path, schema } = section;
  const required = new Set(schema.required ?? []);
  const rows = Object.entries(schema.properties ?? {}).map(([name, field]) => {
    const childPath = path === '' ? name : `${path}.${name}`;
    return `| ${code(name)} | ${cell(typeOf(field, childPath))} | ${cell(defaultOf(field, required.has(name)))} | ${cell(field.description ?? '')} |`;
  });
  const heading = path === '' ? '## The top level' : `## ${code(path)}`;
  const about = path !== '' && schema.description ? `${schema.description.trim()}\n\n` : '';
  return `${heading}\n\n${about}| field | type | default | what |\n| --- | --- | --- | --- |\n${rows.join('\n')}\n`;
}

/** The whole page, as `npm run docs` writes it. */
export function renderManifestReference(): string {
  const json = manifestJsonSchema();
  return `${[INTRO, ...sectionsOf('', json).map(renderSection)].join('\n')}`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const page = renderManifestReference();
  const missing = undescribedFields();
  if (missing.length > 0) process.stderr.write(`warning: fields without a description in the schema: ${missing.join(', ')}\n`);
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(MANIFEST_REFERENCE_FILE, 'utf8');
    } catch {
      // A missing page is a stale one.
    }
    if (current !== page) {
      process.stderr.write(`${MANIFEST_REFERENCE_PATH} is not what the schema renders; run: ${REGENERATE_COMMAND}\n`);
      process.exit(1);
    }
  } else {
    writeFileSync(MANIFEST_REFERENCE_FILE, page);
    process.stdout.write(`wrote ${MANIFEST_REFERENCE_PATH}\n`);
  }
}
