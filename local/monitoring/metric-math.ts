// The part of CloudWatch metric math the alarm catalog's expressions use, evaluated on one period's
// values: numbers, metric ids, + - * /, comparisons (> >= < <= == !=, 1 or 0), IF(condition, a, b),
// FILL(metric, value), MAX/MIN/SUM/AVG over [a, b, ...], and parentheses. A metric without data in the period is undefined, and
// so is anything computed from it (CloudWatch's "no datapoint"); MAX and the like skip missing values.

export type MetricValues = Readonly<Record<string, number | undefined>>;

type Node =
  | { readonly type: 'number'; readonly value: number }
  | { readonly type: 'id'; readonly name: string }
  | { readonly type: 'binary'; readonly op: string; readonly left: Node; readonly right: Node }
  | { readonly type: 'negate'; readonly operand: Node }
  | { readonly type: 'call'; readonly name: string; readonly args: readonly Node[] }
  | { readonly type: 'list'; readonly items: readonly Node[] };

export class MetricMathError extends Error {
  override readonly name = 'MetricMathError';
}

const TOKEN = /\s*(?:(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(>=|<=|==|!=|[-+*/(),[\]<>]))/y;

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.length) {
    if (/^\s*$/.test(text.slice(TOKEN.lastIndex))) break;
    const at = TOKEN.lastIndex;
    const match = TOKEN.exec(text);
    if (!match) throw new MetricMathError(`cannot read '${text.slice(at, at + 10)}' in expression ${text}`);
    tokens.push(match[1] ?? match[2] ?? match[3]!);
  }
  return tokens;
}

const PRECEDENCE: Record<string, number> = { '==': 1, '!=': 1, '>': 2, '>=': 2, '<': 2, '<=': 2, '+': 3, '-': 3, '*': 4, '/': 4 };

/** Parses an expression once; the result evaluates it on any period's values. */
export function parseMetricMath(text: string): (values: MetricValues) => number | undefined {
  const tokens = tokenize(text);
  let position = 0;
  const peek = () => tokens[position];
  const expect = (token: string) => {
    if (tokens[position] !== token) throw new MetricMathError(`expected '${token}' at token ${position + 1} of ${text}`);
    position++;
  };
  const list = (close: string): Node[] => {
    const items: Node[] = [];
    if (peek() === close) return items;
    for (;;) {
      items.push(expression(0));
      if (peek() !== ',') return items;
      position++;
    }
  };
  const primary = (): Node => {
    const token = tokens[position++];
    if (token === undefined) throw new MetricMathError(`expression ends too early: ${text}`);
    if (token === '(') {
      const inner = expression(0);
      expect(')');
      return inner;
    }
    if (token === '[') {
      const items = list(']');
      expect(']');
      return { type: 'list', items };
    }
    if (token === '-') return { type: 'negate', operand: primary() };
    if (/^\d/.test(token)) return { type: 'number', value: Number(token) };
    if (/^[A-Za-z_]/.test(token)) {
      if (peek() !== '(') return { type: 'id', name: token };
      position++;
      const args = list(')');
      expect(')');
      return { type: 'call', name: token.toUpperCase(), args };
    }
    throw new MetricMathError(`unexpected '${token}' in ${text}`);
  };
  const expression = (minimum: number): Node => {
    let left = primary();
    for (;;) {
      const op = peek();
      const precedence = op === undefined ? undefined : PRECEDENCE[op];
      if (precedence === undefined || precedence < minimum) return left;
      position++;
      left = { type: 'binary', op: op!, left, right: expression(precedence + 1) };
    }
  };
  const root = expression(0);
  if (position !== tokens.length) throw new MetricMathError(`unexpected '${tokens[position]}' in ${text}`);
  return (values) => {
    const result = evaluate(root, values);
    if (Array.isArray(result)) throw new MetricMathError(`${text} is a list, not one value`);
    return result;
  };
}

type Value = number | undefined | (number | undefined)[];

function scalar(value: Value, what: string): number | undefined {
  if (Array.isArray(value)) throw new MetricMathError(`${what} takes one value, not a list`);
  return value;
}

function evaluate(node: Node, values: MetricValues): Value {
  switch (node.type) {
    case 'number':
      return node.value;
    case 'id':
      if (!(node.name in values)) throw new MetricMathError(`unknown metric id '${node.name}'`);
      return values[node.name];
    case 'list':
      return node.items.flatMap((item) => {
        const v = evaluate(item, values);
        return Array.isArray(v) ? v : [v];
      });
    case 'negate': {
      const v = scalar(evaluate(node.operand, values), '-');
      return v === undefined ? undefined : -v;
    }
    case 'binary': {
      const a = scalar(evaluate(node.left, values), node.op);
      const b = scalar(evaluate(node.right, values), node.op);
      if (a === undefined || b === undefined) return undefined;
      switch (node.op) {
        case '+':
          return a + b;
        case '-':
          return a - b;
        case '*':
          return a * b;
        case '/':
          // CloudWatch leaves a division by zero without a datapoint.
          return b === 0 ? undefined : a / b;
        case '>':
          return a > b ? 1 : 0;
        case '>=':
          return a >= b ? 1 : 0;
        case '<':
          return a < b ? 1 : 0;
        case '<=':
          return a <= b ? 1 : 0;
        case '==':
          return a === b ? 1 : 0;
        default:
          return a !== b ? 1 : 0;
      }
    }
    case 'call': {
      if (node.name === 'IF') {
        if (node.args.length !== 3) throw new MetricMathError('IF takes a condition and two values');
        const condition = scalar(evaluate(node.args[0]!, values), 'IF');
        if (condition === undefined) return undefined;
        return scalar(evaluate(node.args[condition !== 0 ? 1 : 2]!, values), 'IF');
      }
      if (node.name === 'FILL') {
        // FILL(m, value): the period's datapoint, or `value` when it has none.
        if (node.args.length !== 2) throw new MetricMathError('FILL takes a metric and a value');
        return scalar(evaluate(node.args[0]!, values), 'FILL') ?? scalar(evaluate(node.args[1]!, values), 'FILL');
      }
      const present = node.args
        .flatMap((arg) => {
          const v = evaluate(arg, values);
          return Array.isArray(v) ? v : [v];
        })
        .filter((v): v is number => v !== undefined);
      if (present.length === 0) return undefined;
      switch (node.name) {
        case 'MAX':
          return Math.max(...present);
        case 'MIN':
          return Math.min(...present);
        case 'SUM':
          return present.reduce((s, v) => s + v, 0);
        case 'AVG':
          return present.reduce((s, v) => s + v, 0) / present.length;
        default:
          throw new MetricMathError(`function ${node.name} is not supported locally`);
      }
    }
  }
}
