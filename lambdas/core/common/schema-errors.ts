// Turns zod issues into one line per problem that names the path and what was expected:
// "models[1].runtime must be one of lambda, sagemaker, received 'gpu'".
import type { z } from 'zod';

type Issue = z.core.$ZodIssue & { input?: unknown };

/** `models[1].runtime` from ['models', 1, 'runtime']; a prefix names the document root. */
export function formatPath(path: readonly PropertyKey[], prefix = ''): string {
  let out = prefix;
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][\w$]*$/.test(key)) out += out ? `.${key}` : key;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out || '(root)';
}

/** A short, safe rendering of a received value (never a whole document). */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return `'${value.length > 60 ? `${value.slice(0, 57)}...` : value}'`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return `an ${typeof value}`;
}

function describeExpectation(issue: Issue): string {
  switch (issue.code) {
    case 'invalid_value':
      return issue.values.length === 1
        ? `must be ${JSON.stringify(issue.values[0])}`
        : `must be one of ${issue.values.map((v) => String(v)).join(', ')}`;
    case 'invalid_type':
      return issue.input === undefined ? `is required (${issue.expected})` : `must be ${article(issue.expected)}`;
    case 'too_small':
      return issue.origin === 'array' || issue.origin === 'string' || issue.origin === 'set'
        ? `must have at least ${String(issue.minimum)} ${issue.origin === 'string' ? 'characters' : 'entries'}`
        : `must be ${issue.inclusive === false ? 'greater than' : 'at least'} ${String(issue.minimum)}`;
    case 'too_big':
      return issue.origin === 'array' || issue.origin === 'string' || issue.origin === 'set'
        ? `must have at most ${String(issue.maximum)} ${issue.origin === 'string' ? 'characters' : 'entries'}`
        : `must be ${issue.inclusive === false ? 'less than' : 'at most'} ${String(issue.maximum)}`;
    case 'unrecognized_keys':
      return `has unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
    case 'invalid_format':
      // A regex check carries the schema's own explanation ("must be 2-48 lower-case letters...").
      return issue.format === 'regex' && !issue.message.startsWith('Invalid') ? issue.message : `must be a valid ${issue.format}`;
    default:
      return issue.message;
  }
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** One line per issue: "<path> <expectation>, received <value>". */
export function formatIssues(issues: readonly z.core.$ZodIssue[], prefix = ''): string[] {
  return issues.map((raw) => {
    const issue = raw as Issue;
    const path = formatPath(issue.path, prefix);
    const expectation = describeExpectation(issue);
    const received =
      issue.code === 'unrecognized_keys' || issue.code === 'custom' || (issue.code === 'invalid_type' && issue.input === undefined)
        ? ''
        : 'input' in issue
          ? `, received ${describeValue(issue.input)}`
          : '';
    return `${path} ${expectation}${received}`;
  });
}

/**
 * Parses with `reportInput` so messages can quote what was received. Returns the data or the formatted lines.
 */
export function parseWithSchema<S extends z.ZodType>(
  schema: S,
  data: unknown,
  prefix = '',
): { ok: true; data: z.output<S> } | { ok: false; errors: string[] } {
  const result = schema.safeParse(data, { reportInput: true });
  return result.success ? { ok: true, data: result.data } : { ok: false, errors: formatIssues(result.error.issues, prefix) };
}
