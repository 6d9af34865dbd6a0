// Names the stack gives its parts, in a module that loads no CDK: the command line (mlship verify,
// mlship batch) needs them, and importing lib/stack/mlship-stack.ts for them would load all of aws-cdk-lib.

/** 'breast-cancer' -> 'BreastCancer': construct ids and output names. */
export function pascalCase(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');
}

/** The stack name for a project and stage: `${project}-${stage}`. */
export function stackName(project: string, stage: string): string {
  return `${project}-${stage}`;
}

/** The alias API Gateway calls; CodeDeploy moves it from version to version. */
export const LIVE_ALIAS = 'live';
