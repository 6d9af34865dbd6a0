// Copies the two public data sets from /work/shared/datasets (or the folder given as the first argument)
// into models/<name>/data/ with a real header row and their provenance. Reproducible: the same input
// files give byte-identical outputs.
//   node --import tsx scripts/import-datasets.ts [SOURCE_DIR]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';

const BREAST_CANCER_FEATURES = [
  'mean radius', 'mean texture', 'mean perimeter', 'mean area', 'mean smoothness', 'mean compactness', 'mean concavity',
  'mean concave points', 'mean symmetry', 'mean fractal dimension', 'radius error', 'texture error', 'perimeter error',
  'area error', 'smoothness error', 'compactness error', 'concavity error', 'concave points error', 'symmetry error',
  'fractal dimension error', 'worst radius', 'worst texture', 'worst perimeter', 'worst area', 'worst smoothness',
  'worst compactness', 'worst concavity', 'worst concave points', 'worst symmetry', 'worst fractal dimension',
];

const BREAST_CANCER_README = `# breast-cancer training data

\`breast_cancer.csv\`: Breast Cancer Wisconsin (Diagnostic).
- UCI Machine Learning Repository; creators W. H. Wolberg, W. N. Street, O. L. Mangasarian (1995).
- 569 rows, 30 numeric features, binary target. Class counts: 212 malignant, 357 benign.
- Converted by \`scripts/import-datasets.ts\` from the shared copy, whose first line was a count header
  \`569,30,malignant,benign\`: that line is replaced by a header row naming the 30 features, and the target
  column is named \`diagnosis\` (0 = malignant, 1 = benign). Values are unchanged.
- Reference accuracy (5-fold cross-validation, standardised features): logistic regression 0.981,
  one-hidden-layer MLP (64 units) 0.977.
`;

const DIGITS_README = `# digits training data

\`digits.csv.gz\`: Optical Recognition of Handwritten Digits (8x8).
- UCI Machine Learning Repository; creator E. Alpaydin (1998).
- 1797 rows; each row is 64 pixel intensities (0..16, an 8x8 image, row-major) followed by the label 0..9.
- Converted by \`scripts/import-datasets.ts\` from the shared copy, which had no header: a header row
  \`pixel_0_0,...,pixel_7_7,digit\` (pixel_<row>_<column>) is added; values are unchanged; still gzip-compressed.
- An image classifier: the stand-in for the "GPU model" path (served by SageMaker in the cloud, by
  onnxruntime on CPU locally).
- Reference accuracy (5-fold cross-validation without shuffling, standardised pixels): logistic regression
  0.920, one-hidden-layer MLP (64 units) 0.932; with a shuffled stratified split both reach about 0.97.
`;

function dataLines(text: string): string[] {
  return text.split(/\r?\n/).filter((line) => line.trim() !== '');
}

function main(): void {
  const source = resolve(process.argv[2] ?? '/work/shared/datasets');
  const root = resolve(import.meta.dirname, '..');

  const breast = dataLines(readFileSync(join(source, 'breast_cancer.csv'), 'utf8'));
  const [rows, features] = breast[0]!.split(',').map(Number);
  if (rows !== breast.length - 1 || features !== BREAST_CANCER_FEATURES.length) {
    throw new Error(`breast_cancer.csv: count header says ${rows} rows x ${features} features, found ${breast.length - 1} rows`);
  }
  const breastDir = join(root, 'models/breast-cancer/data');
  mkdirSync(breastDir, { recursive: true });
  const header = [...BREAST_CANCER_FEATURES, 'diagnosis'].map((name) => (name.includes(',') ? `"${name}"` : name)).join(',');
  writeFileSync(join(breastDir, 'breast_cancer.csv'), [header, ...breast.slice(1)].join('\n') + '\n');
  writeFileSync(join(breastDir, 'README.md'), BREAST_CANCER_README);

  const digits = dataLines(gunzipSync(readFileSync(join(source, 'digits.csv.gz'))).toString('utf8'));
  const pixels = Array.from({ length: 64 }, (_, i) => `pixel_${Math.floor(i / 8)}_${i % 8}`);
  const digitsDir = join(root, 'models/digits/data');
  mkdirSync(digitsDir, { recursive: true });
  writeFileSync(join(digitsDir, 'digits.csv.gz'), gzipSync([[...pixels, 'digit'].join(','), ...digits].join('\n') + '\n', { level: 9 }));
  writeFileSync(join(digitsDir, 'README.md'), DIGITS_README);
  console.log(`wrote ${breast.length - 1} rows to ${breastDir}/breast_cancer.csv and ${digits.length} rows to ${digitsDir}/digits.csv.gz`);
}

main();
