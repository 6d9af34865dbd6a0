// What the local runner cannot emulate faithfully, found before anything runs. aws-local-stepfunctions
// silently ignores JSONata, variables and Distributed Map's reader, batcher and writer, and would call real
// AWS for a Task with no local handler; each such construct is named here with its state and field, so a
// run is refused rather than wrong.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** What the runner was given to stand in for the cloud: which Task states and readers/writers exist. */
export interface LocalCapabilities {
  readonly taskStates: ReadonlySet<string>;
  readonly itemReader: boolean;
  readonly resultWriter: boolean;
}

const JSONATA_FIELDS = ['Arguments', 'Output', 'Items', 'Condition'] as const;
const PATH_FIELDS = ['InputPath', 'OutputPath', 'ResultPath', 'ItemsPath', 'Variable', 'SecondsPath', 'TimestampPath', 'ErrorPath', 'CausePath', 'TimeoutSecondsPath', 'HeartbeatSecondsPath', 'MaxConcurrencyPath', 'ToleratedFailurePercentagePath', 'ToleratedFailureCountPath', 'MaxItemsPerBatchPath', 'MaxInputBytesPerBatchPath', 'MaxItemsPath'];
/** `$name` (a variable) rather than `$`, `$.x`, `$[0]` or `$$` (the context object). */
const VARIABLE_REFERENCE = /(^|[\s(,])\$[A-Za-z_]/;

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** `.$` payload fields and path fields that read a workflow variable. */
function variableUses(value: unknown, where: string, out: string[]): void {
  if (Array.isArray(value)) {
    value.forEach((item, i) => variableUses(item, `${where}[${i}]`, out));
    return;
  }
  if (!isObject(value)) return;
  for (const [key, child] of Object.entries(value)) {
    const isPath = key.endsWith('.$') || PATH_FIELDS.includes(key) || /Path$/.test(key);
    if (isPath && typeof child === 'string' && VARIABLE_REFERENCE.test(child)) {
      out.push(`${where}.${key}: '${child}' reads a workflow variable; variables are not emulated locally (use JSONPath on the state input)`);
    } else if (typeof child === 'object' && key !== 'States') {
      variableUses(child, `${where}.${key}`, out);
    }
  }
}

function checkMachine(machine: JsonObject, where: string, caps: LocalCapabilities, out: string[]): void {
  if (machine.QueryLanguage === 'JSONata') out.push(`${where}.QueryLanguage: JSONata is not emulated locally; define the state machine in JSONPath`);
  const states = machine.States;
  if (!isObject(states)) return;
  for (const [name, raw] of Object.entries(states)) {
    if (!isObject(raw)) continue;
    const at = `${where}.States.${name}`;
    if (raw.QueryLanguage === 'JSONata') out.push(`${at}.QueryLanguage: JSONata is not emulated locally; use JSONPath`);
    for (const field of JSONATA_FIELDS) {
      if (field in raw) out.push(`${at}.${field}: a JSONata field, not emulated locally; use JSONPath (Parameters, ResultSelector, OutputPath)`);
    }
    if ('Assign' in raw) out.push(`${at}.Assign: workflow variables are not emulated locally; pass data through the state input and ResultPath`);
    for (const [list, key] of [['Choices', 'Choices'], ['Catch', 'Catch']] as const) {
      const entries = raw[list];
      if (Array.isArray(entries)) {
        entries.forEach((entry, i) => {
          if (isObject(entry) && 'Assign' in entry) out.push(`${at}.${key}[${i}].Assign: workflow variables are not emulated locally`);
          if (isObject(entry) && 'Condition' in entry) out.push(`${at}.${key}[${i}].Condition: a JSONata condition, not emulated locally; use a JSONPath choice rule`);
        });
      }
    }
    variableUses(raw, at, out);
    switch (raw.Type) {
      case 'Task':
        if (!caps.taskStates.has(name)) {
          out.push(`${at}.Resource: '${String(raw.Resource)}' has no local handler; give one in taskHandlers['${name}'] (unknown integrations are never called for real)`);
        }
        break;
      case 'Pass':
        if ('Result' in raw && !raw.Result) {
          out.push(`${at}.Result: a falsy Result (${JSON.stringify(raw.Result)}) is dropped by the local engine; wrap it in an object`);
        }
        break;
      case 'Parallel':
        if (Array.isArray(raw.Branches)) raw.Branches.forEach((branch, i) => isObject(branch) && checkMachine(branch, `${at}.Branches[${i}]`, caps, out));
        break;
      case 'Map':
        checkMap(raw, at, caps, out);
        break;
      default:
        break;
    }
  }
}

const DISTRIBUTED_ONLY = ['ItemReader', 'ItemBatcher', 'ResultWriter', 'ToleratedFailurePercentage', 'ToleratedFailurePercentagePath', 'ToleratedFailureCount', 'ToleratedFailureCountPath'];

export function isDistributedMap(state: JsonObject): boolean {
  const processor = state.ItemProcessor;
  return isObject(processor) && isObject(processor.ProcessorConfig) && processor.ProcessorConfig.Mode === 'DISTRIBUTED';
}

function checkMap(state: JsonObject, at: string, caps: LocalCapabilities, out: string[]): void {
  const processor = state.ItemProcessor ?? state.Iterator;
  if (isDistributedMap(state)) {
    const reader = state.ItemReader;
    if (isObject(reader) && !caps.itemReader) out.push(`${at}.ItemReader: reads '${String(reader.Resource)}'; give distributedMap.itemReader to read the items locally`);
    const writer = state.ResultWriter;
    if (isObject(writer) && 'Resource' in writer && !caps.resultWriter) out.push(`${at}.ResultWriter: writes through '${String(writer.Resource)}'; give distributedMap.resultWriter to write the results locally`);
    // The adapter evaluates these with the Map's input and `$$.Map.Item` only; other context would be wrong.
    for (const field of ['ItemSelector', 'Parameters', 'ItemReader', 'ItemBatcher', 'ResultWriter'] as const) {
      const text = field in state ? JSON.stringify(state[field]) : '';
      const context = /\$\$\.(?!Map\.Item\b)[A-Za-z.]*/.exec(text);
      if (context) out.push(`${at}.${field}: '${context[0]}' is not available to a Distributed Map's ${field} locally (only $$.Map.Item); pass it in the state input`);
    }
    for (const list of ['Retry', 'Catch'] as const) {
      const entries = state[list];
      if (Array.isArray(entries) && entries.some((entry) => isObject(entry) && Array.isArray(entry.ErrorEquals) && entry.ErrorEquals.includes('States.TaskFailed'))) {
        out.push(`${at}.${list}: States.TaskFailed never matches a Map state in the cloud but would locally; name the errors (States.ExceedToleratedFailureThreshold, States.ALL)`);
      }
    }
  } else {
    for (const field of DISTRIBUTED_ONLY) {
      if (field in state) out.push(`${at}.${field}: only a DISTRIBUTED Map has it, and the local engine would ignore it here`);
    }
  }
  if (isObject(processor)) checkMachine(processor, `${at}.${'ItemProcessor' in state ? 'ItemProcessor' : 'Iterator'}`, caps, out);
}

/** Every construct of the definition the local runner cannot emulate faithfully, each naming its state and field. */
export function unsupportedConstructs(definition: JsonObject, caps: LocalCapabilities): string[] {
  const out: string[] = [];
  checkMachine(definition, '$', caps, out);
  // Local handlers are keyed by state name across nested machines; two such states would share one.
  const seen = new Set<string>();
  forEachState(definition, (name, state) => {
    if (state.Type !== 'Task' && !(state.Type === 'Map' && isDistributedMap(state))) return;
    if (seen.has(name)) out.push(`States.${name}: two Task or Distributed Map states share the name '${name}'; local handlers are keyed by name, so rename one`);
    seen.add(name);
  });
  return out;
}

/** Calls visit for every state at every depth (Parallel branches, Map processors), with its machine-level name. */
export function forEachState(machine: JsonObject, visit: (name: string, state: JsonObject) => void): void {
  const states = machine.States;
  if (!isObject(states)) return;
  for (const [name, state] of Object.entries(states)) {
    if (!isObject(state)) continue;
    visit(name, state);
    if (Array.isArray(state.Branches)) state.Branches.forEach((branch) => isObject(branch) && forEachState(branch, visit));
    const processor = state.ItemProcessor ?? state.Iterator;
    if (isObject(processor)) forEachState(processor, visit);
  }
}
