// The mlship command line. Each subcommand lives in bin/commands/<name>.ts and only parses flags and
// prints; the work is done in lambdas/core. Add a subcommand by adding its module and one addCommand line.
import { Command } from 'commander';
import { batchCommand } from './commands/batch';
import { canaryCommand } from './commands/canary';
import { driftCommand } from './commands/drift';
import { explainCommand } from './commands/explain';
import { feedbackCommand } from './commands/feedback';
import { importCommand } from './commands/import';
import { qualityCommand } from './commands/quality';
import { retrainCommand } from './commands/retrain';
import { trainCommand } from './commands/train';
import { verifyCommand } from './commands/verify';

export function buildProgram(): Command {
  return new Command('mlship')
    .description('ship ONNX models to AWS Lambda, and serve them locally')
    .version('0.1.0')
    // The program's options come before the subcommand: a subcommand's own --version (mlship quality) is its own.
    .enablePositionalOptions()
    .showHelpAfterError('(run with --help for usage)')
    .addCommand(trainCommand())
    .addCommand(importCommand())
    .addCommand(canaryCommand())
    .addCommand(verifyCommand())
    .addCommand(driftCommand())
    .addCommand(batchCommand())
    .addCommand(retrainCommand())
    .addCommand(feedbackCommand())
    .addCommand(qualityCommand())
    .addCommand(explainCommand());
}

await buildProgram().parseAsync(process.argv);
