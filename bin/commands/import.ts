// mlship import: onboard an ONNX model made elsewhere (PyTorch, scikit-learn, ...) into models/<name>/<version>/.
import { Command, Option } from 'commander';
import { parseImageSize } from '../../lambdas/core/models/onboard';
import { importModel, type ScoresKind } from '../../lambdas/core/models/onboard-import';
import { action, parseList, parsePositiveInteger, reportArtifact } from './common';

interface ImportFlags {
  name: string;
  baseline?: string;
  label?: string;
  labels?: string[];
  scoresOutput?: string;
  scoresKind?: ScoresKind;
  image?: string;
  modelsDir: string;
  backgroundRows: number;
}

export function importCommand(): Command {
  return new Command('import')
    .description('import an ONNX model with one float input: write model.onnx and model.json into models/<name>/<version>/')
    .argument('<file.onnx>', 'the ONNX model')
    .requiredOption('--name <name>', 'model name (lower-case letters, digits, dashes)')
    .option('--baseline <file>', 'CSV (header row) of representative inputs: drift baseline, golden cases, and an evaluation when it has a label column')
    .option('--label <column>', 'label column of the baseline (default: the last column when the CSV has one more column than the model has features)')
    .option('--labels <names>', 'class names in score-column order, comma-separated', parseList)
    .option('--scores-output <name>', 'output tensor with the scores (default: the float [N, C] output)')
    .addOption(new Option('--scores-kind <kind>', 'what the scores are (default: guessed)').choices(['probabilities', 'logits', 'value']))
    .option('--image <HxW>', 'the input is an image of this size, e.g. 8x8')
    .option('--models-dir <dir>', 'models folder', 'models')
    .option('--background-rows <n>', 'rows of the background sample kept for explanations (background.json)', parsePositiveInteger, 100)
    .action(
      action(async (file: string, flags: ImportFlags) => {
        const result = await importModel({
          name: flags.name,
          onnxFile: file,
          modelsDir: flags.modelsDir,
          backgroundRows: flags.backgroundRows,
          ...(flags.baseline !== undefined ? { baseline: flags.baseline } : {}),
          ...(flags.label !== undefined ? { label: flags.label } : {}),
          ...(flags.labels ? { labels: flags.labels } : {}),
          ...(flags.scoresOutput !== undefined ? { scoresOutput: flags.scoresOutput } : {}),
          ...(flags.scoresKind !== undefined ? { scoresKind: flags.scoresKind } : {}),
          ...(flags.image !== undefined ? { image: parseImageSize(flags.image) } : {}),
        });
        reportArtifact(result);
      }),
    );
}
