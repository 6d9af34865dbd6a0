// The Amazon States Language definition of a state machine, taken from a synthesized CloudFormation
// template, so that what runs locally is what deploys. CDK writes `DefinitionString` as a string or an
// `Fn::Join` of strings and intrinsics (`Ref`, `Fn::GetAtt` for function ARNs, `Ref` of AWS::Partition);
// the caller says what each referenced resource is locally. Anything this module cannot resolve is refused
// with its name and place, never passed through.
import type { JsonObject } from './checks';

/** What a logical id stands for locally: one string for any reference, or one per `Ref` and attribute. */
export type LocalReference = string | { readonly Ref?: string; readonly [attribute: string]: string | undefined };

export interface DefinitionOptions {
  /** logical id -> its local stand-in (e.g. `arn:aws:lambda:local:000000000000:function:<LogicalId>`). */
  readonly references?: Readonly<Record<string, LocalReference>>;
  /**
   * Values of pseudo parameters (`AWS::Partition`, `AWS::Region`, ...).
   * @default - LOCAL_PSEUDO_PARAMETERS
   */
  readonly pseudoParameters?: Readonly<Record<string, string>>;
}

export const LOCAL_PSEUDO_PARAMETERS: Readonly<Record<string, string>> = {
  'AWS::Partition': 'aws',
  'AWS::Region': 'local',
  'AWS::AccountId': '000000000000',
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': 'local',
  'AWS::NoValue': '',
};

/** A definition or a reference in it that cannot be taken from the template. */
export class TemplateDefinitionError extends Error {
  override readonly name = 'TemplateDefinitionError';
}

interface TemplateResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}

interface TemplateLike {
  readonly Resources?: Record<string, TemplateResource>;
}

const STATE_MACHINE_TYPE = 'AWS::StepFunctions::StateMachine';

/** Logical ids of the template's state machines, in template order. */
export function stateMachineLogicalIds(template: TemplateLike): string[] {
  return Object.entries(template.Resources ?? {})
    .filter(([, resource]) => resource.Type === STATE_MACHINE_TYPE)
    .map(([id]) => id);
}

/**
 * A local stand-in for every resource of the template: `Ref` gives the logical id, `Fn::GetAtt [id, Arn]`
 * an ARN in the local account and region (`arn:aws:lambda:local:000000000000:function:<LogicalId>` for a
 * function), any other attribute `<LogicalId>.<Attribute>`. Callers override what they need.
 */
export function localReferences(template: TemplateLike, pseudo: Readonly<Record<string, string>> = LOCAL_PSEUDO_PARAMETERS): Record<string, LocalReference> {
  const region = pseudo['AWS::Region'] ?? 'local';
  const account = pseudo['AWS::AccountId'] ?? '000000000000';
  const partition = pseudo['AWS::Partition'] ?? 'aws';
  const refs: Record<string, LocalReference> = {};
  for (const [id, resource] of Object.entries(template.Resources ?? {})) {
    const service = /^AWS::([A-Za-z0-9]+)::/.exec(resource.Type)?.[1]?.toLowerCase() ?? 'local';
    const arn =
      resource.Type === 'AWS::Lambda::Function' ? `arn:${partition}:lambda:${region}:${account}:function:${id}`
      : resource.Type === 'AWS::S3::Bucket' ? `arn:${partition}:s3:::${id.toLowerCase()}`
      : resource.Type === 'AWS::SNS::Topic' ? `arn:${partition}:sns:${region}:${account}:${id}`
      : resource.Type === STATE_MACHINE_TYPE ? `arn:${partition}:states:${region}:${account}:stateMachine:${id}`
      : `arn:${partition}:${service}:${region}:${account}:${id}`;
    const ref =
      resource.Type === 'AWS::S3::Bucket' ? id.toLowerCase()
      : resource.Type === 'AWS::SNS::Topic' || resource.Type === STATE_MACHINE_TYPE ? arn
      : id;
    refs[id] = new Proxy({ Ref: ref, Arn: arn } as Record<string, string>, {
      get: (target, attribute: string) => target[attribute] ?? `${id}.${attribute}`,
    });
  }
  return refs;
}

function describe(value: unknown): string {
  return JSON.stringify(value);
}

function lookup(options: DefinitionOptions, logicalId: string, attribute: string | undefined, where: string): string {
  const pseudo = options.pseudoParameters ?? LOCAL_PSEUDO_PARAMETERS;
  if (attribute === undefined && logicalId in pseudo) return pseudo[logicalId]!;
  const reference = options.references?.[logicalId];
  const shown = attribute === undefined ? `{"Ref":"${logicalId}"}` : `{"Fn::GetAtt":["${logicalId}","${attribute}"]}`;
  if (reference === undefined) {
    throw new TemplateDefinitionError(`${where}: cannot resolve ${shown}: no local reference for '${logicalId}' (pass it in references)`);
  }
  if (typeof reference === 'string') return reference;
  const value = reference[attribute ?? 'Ref'];
  if (typeof value !== 'string') {
    throw new TemplateDefinitionError(`${where}: cannot resolve ${shown}: the local reference for '${logicalId}' has no '${attribute ?? 'Ref'}'`);
  }
  return value;
}

/** Resolves a CloudFormation value that must become a string: a literal, Ref, Fn::GetAtt, Fn::Join, Fn::Select, Fn::Sub. */
export function resolveString(value: unknown, options: DefinitionOptions, where: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const keys = Object.keys(value);
    if (keys.length === 1) {
      const key = keys[0]!;
      const arg = (value as Record<string, unknown>)[key];
      switch (key) {
        case 'Ref':
          if (typeof arg === 'string') return lookup(options, arg, undefined, where);
          break;
        case 'Fn::GetAtt': {
          const parts = typeof arg === 'string' ? splitOnce(arg) : arg;
          if (Array.isArray(parts) && parts.length === 2 && typeof parts[0] === 'string') {
            return lookup(options, parts[0], resolveString(parts[1], options, where), where);
          }
          break;
        }
        case 'Fn::Join':
          if (Array.isArray(arg) && arg.length === 2 && Array.isArray(arg[1])) {
            const separator = resolveString(arg[0], options, where);
            return (arg[1] as unknown[]).map((part) => resolveString(part, options, where)).join(separator);
          }
          break;
        case 'Fn::Select':
          if (Array.isArray(arg) && arg.length === 2 && Array.isArray(arg[1])) {
            const index = Number(resolveString(arg[0], options, where));
            const list = arg[1] as unknown[];
            if (Number.isInteger(index) && index >= 0 && index < list.length) return resolveString(list[index], options, where);
          }
          break;
        case 'Fn::Sub':
          return resolveSub(arg, options, where);
        default:
          throw new TemplateDefinitionError(`${where}: cannot resolve ${key} locally: ${describe(value)}`);
      }
      throw new TemplateDefinitionError(`${where}: malformed ${key}: ${describe(value)}`);
    }
  }
  throw new TemplateDefinitionError(`${where}: cannot resolve ${describe(value)} to a string`);
}

function splitOnce(attribute: string): [string, string] | undefined {
  const dot = attribute.indexOf('.');
  return dot > 0 ? [attribute.slice(0, dot), attribute.slice(dot + 1)] : undefined;
}

function resolveSub(arg: unknown, options: DefinitionOptions, where: string): string {
  const [text, variables] = typeof arg === 'string' ? [arg, {}] : Array.isArray(arg) && typeof arg[0] === 'string' ? [arg[0], (arg[1] ?? {}) as Record<string, unknown>] : [undefined, {}];
  if (text === undefined) throw new TemplateDefinitionError(`${where}: malformed Fn::Sub: ${describe(arg)}`);
  return text.replace(/\$\{([^}!][^}]*)\}/g, (_, name: string) => {
    if (name in variables) return resolveString(variables[name], options, where);
    const dotted = splitOnce(name);
    return dotted ? lookup(options, dotted[0], dotted[1], where) : lookup(options, name, undefined, where);
  });
}

/** Replaces every `${name}` of DefinitionSubstitutions; a `${name}` with no substitution is refused. */
function substitute(text: string, substitutions: Record<string, unknown>, options: DefinitionOptions, where: string): string {
  const resolved = Object.fromEntries(Object.entries(substitutions).map(([name, value]) => [name, resolveString(value, options, `${where}.DefinitionSubstitutions.${name}`)]));
  return text.replace(/\$\{([^}]+)\}/g, (whole, name: string) => {
    if (!(name in resolved)) throw new TemplateDefinitionError(`${where}: the definition uses ${whole} but DefinitionSubstitutions has no '${name}'`);
    return resolved[name]!;
  });
}

/**
 * The definition of one state machine of a synthesized template, parsed.
 * @param logicalId - the state machine's logical id; may be left out when the template has exactly one.
 */
export function definitionFromTemplate(template: TemplateLike, logicalId?: string, options: DefinitionOptions = {}): JsonObject {
  const ids = stateMachineLogicalIds(template);
  const id = logicalId ?? (ids.length === 1 ? ids[0] : undefined);
  if (id === undefined) {
    throw new TemplateDefinitionError(`name the state machine: the template has ${ids.length === 0 ? 'none' : ids.join(', ')}`);
  }
  const resource = template.Resources?.[id];
  if (!resource || resource.Type !== STATE_MACHINE_TYPE) {
    throw new TemplateDefinitionError(`'${id}' is not an ${STATE_MACHINE_TYPE} of the template (state machines: ${ids.join(', ') || 'none'})`);
  }
  const where = `${id}.Properties`;
  const props = resource.Properties ?? {};
  if (props.DefinitionS3Location !== undefined) {
    throw new TemplateDefinitionError(`${where}.DefinitionS3Location: a definition stored in S3 cannot be read locally; inline it`);
  }
  let text: string;
  if (props.DefinitionString !== undefined) {
    text = resolveString(props.DefinitionString, options, `${where}.DefinitionString`);
  } else if (props.Definition !== undefined && typeof props.Definition === 'object') {
    text = JSON.stringify(props.Definition);
  } else {
    throw new TemplateDefinitionError(`${where}: no DefinitionString or Definition`);
  }
  const substitutions = props.DefinitionSubstitutions;
  if (substitutions !== undefined) {
    text = substitute(text, substitutions as Record<string, unknown>, options, where);
  }
  try {
    return JSON.parse(text) as JsonObject;
  } catch (error) {
    throw new TemplateDefinitionError(`${where}.DefinitionString is not JSON once resolved: ${(error as Error).message}`);
  }
}
