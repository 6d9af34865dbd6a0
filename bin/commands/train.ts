// mlship train: fit a built-in family on a CSV and write models/<name>/<version>/.
import { Command, Option } from 'commander';
import { parseImageSize } from '../../lambdas/core/models/onboard';
import { trainModel } from '../../lambdas/core/models/onboard-train';
import { action, parseInteger, parseList, parseNumber, parsePositiveInteger, reportArtifact } from './common';

interface TrainFlags {
  name: string;
  data: string;
  label?: string;
  family: 'logreg' | 'mlp';
  labels?: string[];
  image?: string;
  seed: number;
  testFraction: number;
  l2?: number;
  epochs?: number;
  iterations?: number;
  hidden?: number;
  activation?: 'relu' | 'tanh';
  modelsDir: string;
  backgroundRows: number;
}

export function trainCommand(): Command {
  return new Command('train')
    .description('train a built-in model (logistic regression or a small MLP) on a CSV with a header row, export it to ONNX and write models/<name>/<version>/')
    .requiredOption('--name <name>', 'model name (lower-case letters, digits, dashes)')
    .requiredOption('--data <file>', 'training data: CSV with a header row, plain or .csv.gz')
    .option('--label <column>', 'label column (default: the last column)')
    .addOption(new Option('--family <family>', 'model family').choices(['logreg', 'mlp']).default('logreg'))
    .option('--labels <names>', 'class names in class-index order, comma-separated (default: the distinct label values)', parseList)
    .option('--image <HxW>', 'the features are an image of this size, e.g. 8x8')
    .option('--seed <n>', 'seed for the split, initial weights and shuffles', parseInteger, 42)
    .option('--test-fraction <x>', 'share of rows held out for evaluation', parseNumber, 0.2)
    .option('--l2 <x>', 'L2 penalty (default: chosen on a validation split of the training rows)', parseNumber)
    .option('--epochs <n>', 'mlp: training epochs (default 60)', parsePositiveInteger)
    .option('--iterations <n>', 'logreg: full-batch iterations (default 500)', parsePositiveInteger)
    .option('--hidden <n>', 'mlp: hidden units (default 64)', parsePositiveInteger)
    .addOption(new Option('--activation <fn>', 'mlp: hidden activation (default relu)').choices(['relu', 'tanh']))
    .option('--models-dir <dir>', 'models folder', 'models')
    .option('--background-rows <n>', 'rows of the background sample kept for explanations (background.json)', parsePositiveInteger, 100)
    .action(
      action(async (flags: TrainFlags) => {
        if (!(flags.testFraction > 0 && flags.testFraction < 1)) throw new Error(`--test-fraction must be between 0 and 1, received ${flags.testFraction}`);
        const result = await trainModel({
          name: flags.name,
          data: flags.data,
          family: flags.family,
          seed: flags.seed,
          testFraction: flags.testFraction,
          modelsDir: flags.modelsDir,
          backgroundRows: flags.backgroundRows,
          ...(flags.label !== undefined ? { label: flags.label } : {}),
          ...(flags.labels ? { labels: flags.labels } : {}),
          ...(flags.image !== undefined ? { image: parseImageSize(flags.image) } : {}),
          ...(flags.l2 !== undefined ? { l2: flags.l2 } : {}),
          ...(flags.epochs !== undefined ? { epochs: flags.epochs } : {}),
          ...(flags.iterations !== undefined ? { iterations: flags.iterations } : {}),
          ...(flags.hidden !== undefined ? { hidden: flags.hidden } : {}),
          ...(flags.activation !== undefined ? { activation: flags.activation } : {}),
        });
        reportArtifact(result);
      }),
    );
}
